// The in-process CLI the VM tests use (test/helpers.ts cliInProcess, on src/cli/program.ts's
// runCommandLine) against the built CLI started as a process: the same exit status, stdout and
// stderr for each command line, run in an order where one command's global flags (-j, -p) or
// failure could leak into the next.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliInProcess, fixture, hasCommand, listingBlocks, need, needKernel } from './helpers.js';

const spawned = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('in-process CLI', () => {
  it('gives what the process gives, command after command', () => {
    const lines: [string[], NodeJS.ProcessEnv?][] = [
      [['-j', 'btf', 'dump', 'file', fixture('maps.bpfel.o')]],
      [['btf', 'dump', 'file', fixture('maps.bpfel.o')]],
      [['-p', 'version']],
      [['version']],
      [['--help']],
      [['prog', '--help']],
      [['nosuch']],
      [['map', 'lisst']],
      [['-j', 'btf', 'dump', 'file', '/nonexistent/x.o']],
      [['btf', 'dump', 'file', '/nonexistent/x.o']],
      [['describe', '--json', fixture('bee_suffix.bpfel.o')]],
      [['describe', fixture('bee_suffix.bpfel.o')]],
      [['gen', 'ts', fixture('maps.bpfel.o')], { LC_ALL: 'C' }],
      [['batch', 'file', '/nonexistent/batch']],
      [['-j', 'batch', 'file']],
      // The loads' short path in the process (src/cli/load-line.ts), the tree in-process: the same failure.
      [['prog', 'loadall', '/nonexistent/x.o', '/sys/fs/bpf/none']],
      [['-j', 'prog', 'load', '/nonexistent/x.o', '/sys/fs/bpf/none']],
      [['prog', 'loadall', fixture('attach.c'), '/sys/fs/bpf/none']],
    ];
    for (const [args, env] of lines) {
      const ours = cliInProcess(args, env);
      expect(ours, args.join(' ')).toEqual(spawned(args, env));
    }
    // Something ran: not every line is a failure.
    expect(cliInProcess(['version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('sets env for the command only', () => {
    const before = process.env.BEE_TS_DEBUG;
    const r = cliInProcess(['btf', 'dump', 'file', '/nonexistent/x.o'], { BEE_TS_DEBUG: '1' });
    expect(r.stderr).toMatch(/^Error: .*\n\S*Error.*\n\s+at /);
    expect(cliInProcess(['btf', 'dump', 'file', '/nonexistent/x.o']).stderr).not.toMatch(/\n\s+at /);
    expect(process.env.BEE_TS_DEBUG).toBe(before);
  });
});

// A prog or map listing runs in the bin without the command tree (src/cli/listing.ts, from
// start.ts); in-process it goes through runCommandLine's tree. Both on objects bpftool loaded
// (with bpf_metadata_* variables, BTF, pins): the kernel is shared, so whole listings are compared
// on this test's objects only.
const skipKernel = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
describe.skipIf(skipKernel)('listings: the process (short path) and the in-process tree', () => {
  const dir = `/sys/fs/bpf/bee-inproc-${process.pid}`;
  const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8' });
  let progIds: number[] = [];
  let mapIds: number[] = [];
  beforeAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    bpftool('prog', 'loadall', fixture('bpftool_show.bpfel.o'), `${dir}/p`, 'pinmaps', `${dir}/m`);
    // count_classifier: a name the kernel cuts at 15 characters (the whole one is from BTF).
    bpftool('prog', 'loadall', fixture('legacy_tc.bpfel.o'), `${dir}/q`);
    const progs = ['p', 'q'].flatMap((d) => fs.readdirSync(`${dir}/${d}`).map((f) => JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${dir}/${d}/${f}`)) as { id: number; map_ids: number[] }));
    progIds = progs.map((p) => p.id);
    mapIds = [...new Set(progs.flatMap((p) => p.map_ids))];
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('give the same exit status, stdout and stderr, selected or whole', () => {
    const [prog] = progIds;
    const pin = `${dir}/p/${fs.readdirSync(`${dir}/p`)[0]}`;
    const lines: string[][] = [
      ['prog', 'show', 'id', String(prog)], ['-j', 'prog', 'show', 'id', String(prog)], ['-p', 'prog', 'show', 'pinned', pin], ['prog', 'list', 'pinned', pin, '--json'],
      ['-f', 'prog', 'show', 'id', String(prog)], ['prog', 'show', 'pinned', pin, '-jf'],
      ['prog', 'show', 'pinned', `${dir}/q/count_classifier`], ['-j', 'prog', 'show', 'pinned', `${dir}/q/count_classifier`], ['-j', 'prog', 'show', 'name', 'count_classifier'],
      ...mapIds.flatMap((id) => [['map', 'show', 'id', String(id)], ['-j', 'map', 'list', 'id', String(id)], ['-p', 'map', 'id', String(id)]]),
      ['map', 'show', 'pinned', `${dir}/m/nosuch`], ['-j', 'map', 'show', 'pinned', `${dir}/m/nosuch`], ['prog', 'show', 'id', '4294967295'],
      ['prog', 'show', 'bogus'], ['-j', 'prog', 'show', 'bogus'], ['map', 'show', 'id'], ['map', 'show', 'name', 'nosuch_map_xyz'],
    ];
    for (const args of lines) expect(spawned(args), args.join(' ')).toEqual(cliInProcess(args));
    expect(spawned(['prog', 'show', 'pinned', `${dir}/q/count_classifier`]).stdout).toMatch(/ name count_classifier /);
    for (const [args, ids] of [[['prog', 'list'], progIds], [['map'], mapIds]] as const) {
      const a = spawned([...args]);
      const b = cliInProcess([...args]);
      expect(a.status).toBe(0);
      expect([b.status, b.stderr]).toEqual([a.status, a.stderr]);
      expect(listingBlocks(a.stdout, ids)).toEqual(listingBlocks(b.stdout, ids));
      expect(listingBlocks(a.stdout, ids)).toHaveLength(ids.length);
      const json = (r: { stdout: string }) => (JSON.parse(r.stdout) as { id: number }[]).filter((o) => ids.includes(o.id));
      const aj = spawned(['-j', ...args]);
      expect(json(aj)).toEqual(json(cliInProcess(['-j', ...args])));
      expect(json(aj)).toHaveLength(ids.length);
    }
  });
});

// A plain `prog loadall`/`prog load` runs in the bin without the command tree (src/cli/load-line.ts);
// in-process it goes through the tree: the same pins, programs and output.
describe.skipIf(needKernel())('loads: the process (short path) and the in-process tree', () => {
  const dir = `/sys/fs/bpf/bee-inproc-load-${process.pid}`;
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('pin the same programs, of the same types and names, with the same output', () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    const shown = (d: string) =>
      fs.readdirSync(d).sort().map((f) => {
        const p = JSON.parse(spawned(['-j', 'prog', 'show', 'pinned', `${d}/${f}`]).stdout) as { name: string; type: string };
        return [f, p.type, p.name];
      });
    // (bpffs names take no dots.)
    for (const [i, [cmd, obj]] of ([['loadall', 'core.bpfel.o'], ['loadall', 'globals.bpfel.o'], ['load', 'globals.bpfel.o']] as const).entries()) {
      const [a, b] = [`${dir}/${cmd}${i}-short`, `${dir}/${cmd}${i}-tree`];
      const short = spawned(['prog', cmd, fixture(obj), a]);
      const tree = cliInProcess(['prog', cmd, fixture(obj), b]);
      expect(short, `${cmd} ${obj}`).toEqual(tree);
      expect(short.status).toBe(0);
      if (cmd === 'load') {
        expect(JSON.parse(spawned(['-j', 'prog', 'show', 'pinned', a]).stdout).type).toBe(JSON.parse(spawned(['-j', 'prog', 'show', 'pinned', b]).stdout).type);
      } else {
        expect(shown(a)).toEqual(shown(b));
        expect(shown(a).length).toBeGreaterThan(0);
      }
    }
  });
});
