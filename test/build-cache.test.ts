// test/build-cache.ts: a build is reused only under its key and only while every file the
// compiler read still has its bytes; in the VM nothing is built under CI=true.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type BuildStep, cachedBuild, parseDeps } from './build-cache.js';
import { hasCommand, need, thrown } from './helpers.js';

const skip = need(hasCommand('gcc'), 'gcc is not installed');

describe('parseDeps', () => {
  it('lists the prerequisites of a make rule, continuation lines joined and escaped spaces kept', () => {
    expect(parseDeps('a.out: /x/a.c /usr/include/stdio.h \\\n /dir\\ with/b.h\n  inc/c.h\n')).toEqual(['/x/a.c', '/usr/include/stdio.h', '/dir with/b.h', 'inc/c.h']);
  });
});

describe.skipIf(skip)('cachedBuild', () => {
  let tmp = '';
  let cache = '';
  let header = '';
  const env = { ...process.env };
  let step: BuildStep;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-build-cache-test-'));
    cache = path.join(tmp, 'cache');
    header = path.join(tmp, 'value.h');
    fs.writeFileSync(header, '#define VALUE 41\n');
    fs.writeFileSync(path.join(tmp, 'main.c'), `#include "${header}"\n#include "gen.h"\nint main(void) { return VALUE + EXTRA; }\n`);
    step = { what: 'test program', tool: 'gcc', files: { 'gen.h': '#define EXTRA 1\n' }, args: ['-O1', '-I', '.', '-o', 'prog', path.join(tmp, 'main.c')], outputs: ['prog'] };
  });
  afterEach(() => {
    process.env.BEE_IN_VM = env.BEE_IN_VM;
    process.env.CI = env.CI;
    for (const k of ['BEE_IN_VM', 'CI'] as const) if (env[k] === undefined) delete process.env[k];
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('builds once into a private dir, then finds the entry; the manifest records the header the compiler read', () => {
    const a = cachedBuild(step, cache);
    expect(a.from).toBe('built');
    expect((fs.statSync(path.join(cache, 'build')).mode & 0o777).toString(8)).toBe('700');
    const m = JSON.parse(fs.readFileSync(path.join(a.dir, 'manifest.json'), 'utf8')) as { inputs: Record<string, string> };
    expect(Object.keys(m.inputs)).toContain(header);
    expect(Object.keys(m.inputs)).toContain(path.join(tmp, 'main.c'));
    const b = cachedBuild(step, cache);
    expect(b).toEqual({ dir: a.dir, from: 'cache' });
    expect(fs.existsSync(path.join(b.dir, 'prog'))).toBe(true);
  });

  it('a changed header (not named in the arguments) makes the entry stale: rebuilt on the host, refused in the VM under CI', () => {
    const first = cachedBuild(step, cache);
    fs.writeFileSync(header, '#define VALUE 7\n');
    process.env.BEE_IN_VM = '1';
    process.env.CI = 'true';
    expect((thrown(() => cachedBuild(step, cache)) as Error).message).toMatch(/test program: no usable prebuilt gcc build \w+ in .*\(input .*value\.h changed since the build\).*under CI=true the VM does not compile/);
    delete process.env.BEE_IN_VM;
    // Same key (the header is not in it), so the same entry, rebuilt in place.
    const again = cachedBuild(step, cache);
    expect(again).toEqual({ dir: first.dir, from: 'built' });
    expect(cachedBuild(step, cache).from).toBe('cache');
  });

  it('in the VM: reads an entry the host built; with none, fails under CI=true and builds into a temp dir otherwise', () => {
    cachedBuild(step, cache);
    process.env.BEE_IN_VM = '1';
    expect(cachedBuild(step, cache).from).toBe('cache');
    const other = { ...step, args: [...step.args, '-DUNUSED'] };
    process.env.CI = 'true';
    expect((thrown(() => cachedBuild(other, cache)) as Error).message).toMatch(/no usable prebuilt gcc build \w+ .*\(no manifest\)/);
    process.env.CI = 'false';
    const local = cachedBuild(other, cache);
    expect(local.from).toBe('built');
    expect(local.dir.startsWith(path.join(cache, 'build'))).toBe(false);
    fs.rmSync(local.dir, { recursive: true, force: true });
  });

  it('refuses a cache dir others can write to', () => {
    fs.mkdirSync(path.join(cache, 'build'), { recursive: true, mode: 0o700 });
    fs.chmodSync(path.join(cache, 'build'), 0o777);
    expect((thrown(() => cachedBuild(step, cache)) as Error).message).toMatch(/not a private \(0700\) directory/);
  });
});
