// prog show metadata, map dump's special cases and the queue/stack/freeze commands, side by side
// with bpftool 7.1 on an object bpftool loaded twice (one copy per tool where a command changes
// the map, so both start from the same state).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
const dir = `/sys/fs/bpf/bee-bpftool-maps-${process.pid}`;
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
/** stdout and exit status (0 or not) of either tool, for commands that may fail. */
const peerRun = (...args: string[]) => {
  const r = spawnSync('bpftool', args, { encoding: 'utf8' });
  return { stdout: r.stdout, ok: r.status === 0 };
};
const beeRun = (...args: string[]) => {
  const r = runCli(args);
  return { stdout: r.stdout, ok: r.status === 0 };
};

describe.skipIf(skip)('bpftool maps and metadata', () => {
  const a = `${dir}/a`; // bpftool's copy
  const b = `${dir}/b`; // bee-ts's copy
  let progId = 0;
  beforeAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    for (const d of [a, b]) fs.mkdirSync(d);
    for (const d of [a, b]) bpftool('prog', 'loadall', fixture('bpftool_show.bpfel.o'), `${d}/p`, 'pinmaps', `${d}/m`);
    progId = JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${a}/p/show_me`)).id;
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prog show prints the bpf_metadata_* variables (string, int, u64, char[] with unprintable bytes) like bpftool', () => {
    for (const f of [[], ['-j'], ['-p']]) {
      const args = [...f, 'prog', 'show', 'id', String(progId)];
      expect(runCli(args).stdout, args.join(' ')).toBe(bpftool(...args));
    }
    const j = JSON.parse(runCli(['-j', 'prog', 'show', 'id', String(progId)]).stdout);
    expect(j.metadata).toEqual({ name: 'bee-ts', version: 42, big: 1099511627776, raw: [1, 2, 120, 0] });
    expect(runCli(['prog', 'show', 'id', String(progId)]).stdout).toMatch(/\tmetadata:\n\t\tname = "bee-ts"\n\t\tversion = 42\n/);
  });

  it('map dump: char[] keys with unprintable bytes as integers, per-CPU values, and a perf event array key by key with its error', () => {
    for (const d of [a, b]) {
      bpftool('map', 'update', 'pinned', `${d}/m/char_keys`, 'key', '1', '2', '0xff', '0', 'value', '5', '0', '0', '0');
      bpftool('map', 'update', 'pinned', `${d}/m/char_keys`, 'key', '0x41', '0x42', '0', '0', 'value', '6', '0', '0', '0');
      bpftool('map', 'update', 'pinned', `${d}/m/per_cpu`, 'key', '0', '0', '0', '0', 'value', '7', '0', '0', '0', '0', '0', '0', '0');
    }
    for (const m of ['char_keys', 'per_cpu', 'perf_out'])
      for (const f of [[], ['-j'], ['-p']]) {
        const args = [...f, 'map', 'dump', 'pinned', `${a}/m/${m}`];
        expect(beeRun(...args), args.join(' ')).toEqual(peerRun(...args));
      }
    const keys = JSON.parse(runCli(['-j', 'map', 'dump', 'pinned', `${a}/m/char_keys`]).stdout).map((e: { formatted: { key: { tag: unknown } } }) => e.formatted.key.tag);
    expect(keys).toContainEqual([1, 2, -1, 0]);
    expect(keys).toContain('AB');
    expect(runCli(['map', 'dump', 'pinned', `${a}/m/perf_out`]).stdout).toContain('value:\nUnknown error 524\n');
    for (const args of [
      ['map', 'lookup', 'pinned', `${a}/m/per_cpu`, 'key', '0', '0', '0', '0'],
      ['-j', 'map', 'lookup', 'pinned', `${a}/m/char_keys`, 'key', '1', '2', '0xff', '0'],
      ['map', 'lookup', 'pinned', `${a}/m/char_keys`, 'key', '9', '9', '9', '9'],
      ['-j', 'map', 'lookup', 'pinned', `${a}/m/char_keys`, 'key', '9', '9', '9', '9'],
    ])
      expect(beeRun(...args).stdout, args.join(' ')).toBe(peerRun(...args).stdout);
  });

  it('map push|enqueue|peek|pop|dequeue on a stack and a queue, and freeze: the same output and state as bpftool', () => {
    const steps: string[][] = [
      ['map', 'push', 'M:lifo', 'value', '1', '0', '0', '0', '0', '0', '0', '0'],
      ['-j', 'map', 'push', 'M:lifo', 'value', '2', '0', '0', '0', '0', '0', '0', '0'],
      ['map', 'peek', 'M:lifo'],
      ['-j', 'map', 'peek', 'M:lifo'],
      ['map', 'pop', 'M:lifo'],
      ['-p', 'map', 'pop', 'M:lifo'],
      ['map', 'pop', 'M:lifo'],
      ['-j', 'map', 'pop', 'M:lifo'],
      ['map', 'enqueue', 'M:fifo', 'value', '7', '0', '0', '0'],
      ['map', 'enqueue', 'M:fifo', 'value', '8', '0', '0', '0'],
      ['map', 'dequeue', 'M:fifo'],
      ['-j', 'map', 'dequeue', 'M:fifo'],
      ['map', 'dequeue', 'M:fifo'],
      ['map', 'freeze', 'M:char_keys'],
      ['map', 'update', 'M:char_keys', 'key', '3', '3', '3', '3', 'value', '1', '0', '0', '0'],
      ['-j', 'map', 'freeze', 'M:per_cpu'],
    ];
    const at = (base: string, args: string[]) => args.flatMap((w) => (w.startsWith('M:') ? ['pinned', `${base}/m/${w.slice(2)}`] : [w]));
    for (const s of steps) {
      const theirs = peerRun(...at(a, s));
      const ours = beeRun(...at(b, s));
      const show = (x: string) => x.replaceAll(b, a);
      expect({ ...ours, stdout: show(ours.stdout) }, s.join(' ')).toEqual(theirs);
    }
    for (const base of [a, b]) expect(JSON.parse(bpftool('-j', 'map', 'show', 'pinned', `${base}/m/char_keys`)).frozen).toBe(1);
    expect(runCli(['map', 'show', 'pinned', `${b}/m/char_keys`]).stdout).toMatch(/\tbtf_id \d+  frozen\n$/);
  });
});
