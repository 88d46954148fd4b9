// The global leak check (test/setup/leak-check.ts, via test/leaks.ts) catches real leaks of this
// process, and ignores the same resources held by another process on the shared kernel.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMap } from '../../src/maps/create.js';
import type { MapSpec } from '../../src/maps/spec.js';
import { RingBufReader } from '../../src/ringbuf/ringbuf.js';
import '../../src/syscall/native.js';
import { MapType } from '../../src/syscall/constants.js';
import { leaksSince, snapshot } from '../leaks.js';
import { childBound, needKernel, root } from '../helpers.js';

const skip = needKernel();
const spec = (name: string, type: number, over: Partial<MapSpec> = {}): MapSpec => ({ name, type, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf', ...over });

describe.skipIf(skip)('leak check', () => {
  it('reports a map fd, a ring mmap and a pin this process left, and nothing once they are gone', () => {
    const before = snapshot();
    const m = createMap(spec('leak_arr', MapType.ARRAY));
    const ring = createMap(spec('leak_ring', MapType.RINGBUF, { keySize: 0, valueSize: 0, maxEntries: 4096 }));
    const reader = new RingBufReader(ring);
    const dir = `/sys/fs/bpf/bee-ts-leak-${process.pid}`;
    fs.mkdirSync(dir, { mode: 0o700 });
    m.pin(`${dir}/arr`);
    const leaks = leaksSince(before);
    expect(leaks.filter((l) => /^fd \d+ \(anon_inode:bpf-map\)$/.test(l))).toHaveLength(2);
    expect(leaks.some((l) => l.startsWith('BPF mmap '))).toBe(true);
    expect(leaks).toContain(`pin ${dir}`);
    fs.rmSync(dir, { recursive: true });
    reader.close();
    ring.close();
    m.close();
    expect(leaksSince(before)).toEqual([]);
  });

  it("another process's maps, mmaps and pins are not ours", async () => {
    const before = snapshot();
    const script = `
      await import(${JSON.stringify(path.join(root, 'dist', 'syscall', 'native.js'))});
      const { createMap } = await import(${JSON.stringify(path.join(root, 'dist', 'maps', 'create.js'))});
      const fs = await import('node:fs');
      const m = createMap({ name: 'other_arr', type: 2, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf' });
      const dir = '/sys/fs/bpf/bee-ts-leak-' + process.pid;
      fs.mkdirSync(dir, { mode: 0o700 });
      m.pin(dir + '/arr');
      console.log('ready');
      process.stdin.on('data', () => { fs.rmSync(dir, { recursive: true }); process.exit(0); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout.on('data', (d) => String(d).includes('ready') && res()));
    try {
      expect(fs.existsSync(`/sys/fs/bpf/bee-ts-leak-${child.pid}`)).toBe(true);
      expect(leaksSince(before)).toEqual([]);
    } finally {
      child.stdin.write('x');
      await new Promise((res) => child.on('exit', res));
    }
  });

  it('a test file that leaks a map fails with the leak named; the same file closing it passes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-leakcheck-${process.pid}-`));
    try {
      const body = (close: boolean) => `
        import { it } from 'vitest';
        import ${JSON.stringify(path.join(root, 'src', 'syscall', 'native.ts'))};
        import { createMap } from ${JSON.stringify(path.join(root, 'src', 'maps', 'create.ts'))};
        it('makes a map', () => {
          const m = createMap({ name: 'leaky', type: 2, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf' });
          ${close ? 'm.close();' : '(globalThis as any).kept = m;'}
        });`;
      fs.writeFileSync(path.join(dir, 'leaky.test.ts'), body(false));
      fs.writeFileSync(path.join(dir, 'tidy.test.ts'), body(true));
      fs.writeFileSync(
        path.join(dir, 'vitest.config.mjs'),
        `export default { test: { include: ['*.test.ts'], setupFiles: [${JSON.stringify(path.join(root, 'test', 'setup', 'leak-check.ts'))}] } };`,
      );
      // Both files in one vitest run (a vitest start-up is 50-70 s of CPU under TCG), each in its
      // own worker as vitest isolates files; its JSON report says how each file ended and why.
      const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
      const report = path.join(dir, 'report.json');
      const run = spawnSync(process.execPath, [vitest, 'run', '--root', dir, '--config', path.join(dir, 'vitest.config.mjs'), '--reporter=json', `--outputFile=${report}`], {
        encoding: 'utf8',
        env: { ...process.env, CI: '' },
        timeout: childBound(120_000),
      });
      expect(run.status, run.stderr).toBe(1);
      const files = new Map((JSON.parse(fs.readFileSync(report, 'utf8')) as { testResults: { name: string; status: string; message: string }[] }).testResults.map((f) => [path.basename(f.name), f]));
      expect([...files.keys()].sort()).toEqual(['leaky.test.ts', 'tidy.test.ts']);
      expect(files.get('leaky.test.ts')!.status).toBe('failed');
      expect(files.get('leaky.test.ts')!.message).toMatch(/left kernel resources behind:\s+fd \d+ \(anon_inode:bpf-map\)/);
      expect(files.get('tidy.test.ts')).toMatchObject({ status: 'passed', message: '' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
