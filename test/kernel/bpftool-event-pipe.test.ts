// map event_pipe side by side with bpftool 7.1: both read a perf event array that a getpid
// tracepoint program writes the caller's pid to, while the test starts processes of its own;
// each tool's record for such a process is printed in the same layout (text and -j), for every
// CPU and for `cpu 0 index 0`, and both stop on SIGINT with "Stopping...".
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_IN_PROCESS, childBound, cli, cliInProcess, fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)') ?? need(hasCommand('taskset'), 'util-linux (taskset) is not installed');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The 12 bytes the program writes for a pid (a u64, padded by the kernel to 8-byte alignment). */
const pidBytes = (pid: number) => {
  const b = Buffer.alloc(12);
  b.writeBigUInt64LE(BigInt(pid));
  return [...b];
};
const hexLine = (bytes: number[]) => bytes.map((x, i) => (i === 0 ? '' : i % 8 === 0 ? '  ' : ' ') + x.toString(16).padStart(2, '0')).join('');

/** Run a reader until one of our own processes' records shows up (bounded), then SIGINT it. */
async function readUntilOurs(cmd: string, args: string[], cpu0: boolean, found: (out: string, pids: number[]) => boolean) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const pids: number[] = [];
  // Under TCG (the VMs) bee-ts takes 20-60 s to start reading: childBound's bound there.
  const deadline = Date.now() + childBound(30_000);
  // The reader needs a moment to set its rings up; processes started before that are not seen, so keep starting them.
  while (Date.now() < deadline && !found(out, pids)) {
    // dash calls getpid(2) as it starts (its root pid), as does every `sh -c :`: a millisecond
    // each, where a Node start-up was 10-20 s of CPU under TCG. taskset puts it on CPU 0 for `cpu 0`.
    const p = spawn(cpu0 ? 'taskset' : 'sh', cpu0 ? ['-c', '0', 'sh', '-c', ':'] : ['-c', ':'], { stdio: 'ignore' });
    if (p.pid) pids.push(p.pid);
    await new Promise((r) => p.on('exit', r));
    await sleep(100);
  }
  child.kill('SIGINT');
  const code = await exit;
  return { out, err, code, pids };
}

describe.skipIf(skip)('map event_pipe vs bpftool', () => {
  const pins = `/sys/fs/bpf/bee-evpipe-${process.pid}`;
  beforeAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
    fs.mkdirSync(pins);
    // libbpf 1.1 would load it too; bee-ts loads and attaches it, both tools read it.
    execFileSync(process.execPath, [cli, 'prog', 'loadall', fixture('legacy_perf.bpfel.o'), `${pins}/p`, '--pinmaps', `${pins}/m`, '--autoattach']);
  });
  afterAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
  });
  const map = () => `${pins}/m/legacy_events`;
  const tools = [
    ['bpftool', 'bpftool', []],
    ['bee-ts', process.execPath, [cli]],
  ] as const;

  it('plain: "== @sec.nsec CPU: c index: i =====" and the bytes in bpftool\'s hex layout, for every CPU and for cpu 0 index 0', async () => {
    const record = /^== @(\d+)\.(\d{9}) CPU: (\d+) index: (\d+) =====\n([0-9a-f]{2}(?:(?: |  |\n)[0-9a-f]{2})*)\n/gm;
    for (const cpu0 of [false, true]) {
      const shapes: string[] = [];
      for (const [name, cmd, pre] of tools) {
        const extra = cpu0 ? ['cpu', '0', 'index', '0'] : [];
        const ours = (out: string, pids: number[]) => pids.some((p) => out.includes(`\n${hexLine(pidBytes(p))}\n`));
        const r = await readUntilOurs(cmd, [...pre, 'map', 'event_pipe', 'pinned', map(), ...extra], cpu0, ours);
        expect(r.code, `${name}: ${r.err}`).toBe(0);
        expect(r.err, name).toContain('Stopping...\n');
        expect(ours(r.out, r.pids), name).toBe(true);
        // Every record is in the layout (or a lost-records line, if other processes flooded a ring).
        const records = [...r.out.matchAll(record)];
        expect(r.out.replace(record, '').replace(/^lost \d+ events\n/gm, ''), name).toBe('');
        for (const m of records) {
          if (cpu0) expect([m[3], m[4]], name).toEqual(['0', '0']);
          else expect(m[4], name).toBe(m[3]); // the index is the CPU
        }
        const mine = records.find((m) => r.pids.some((p) => m[5] === hexLine(pidBytes(p))))!;
        shapes.push(mine[0].replace(/@\d+\.\d{9}/, '@T').replace(/CPU: \d+ index: \d+/, 'CPU: c index: i').replace(mine[5]!, hexLine(pidBytes(1234))));
      }
      expect(shapes[1]).toBe(shapes[0]);
      expect(shapes[0]).toBe(`== @T CPU: c index: i =====\n${hexLine(pidBytes(1234))}\n`);
    }
  });

  it('-j: a JSON array of {type, cpu, index, timestamp, data}, the same keys in the same order as bpftool', async () => {
    const shapes: unknown[] = [];
    for (const [name, cmd, pre] of tools) {
      const ours = (out: string, pids: number[]) => pids.some((p) => out.includes(`"data":[${pidBytes(p).join(',')}]`));
      const r = await readUntilOurs(cmd, [...pre, '-j', 'map', 'event_pipe', 'pinned', map()], false, ours);
      expect(r.code, `${name}: ${r.err}`).toBe(0);
      const records = JSON.parse(r.out) as { type: number; cpu: number; index: number; timestamp: number; data: number[] }[];
      expect(records.length, name).toBeGreaterThan(0);
      for (const rec of records.filter((x) => x.type !== 2)) {
        // (type 2: a lost-records report, {type, cpu, index, lost}, if other processes flooded a ring)
        expect(Object.keys(rec), name).toEqual(['type', 'cpu', 'index', 'timestamp', 'data']);
        expect(rec.type, name).toBe(9);
        expect(rec.index, name).toBe(rec.cpu);
        expect(rec.data, name).toHaveLength(12);
      }
      const mine = records.find((rec) => r.pids.some((p) => JSON.stringify(rec.data) === JSON.stringify(pidBytes(p))))!;
      shapes.push({ ...mine, cpu: 'c', index: 'c', timestamp: 'T', data: 'pid' });
    }
    expect(shapes[1]).toEqual(shapes[0]);
  });

  it("refuses what bpftool refuses, with bpftool's messages", () => {
    // runCli starts a process for every event_pipe (a stream stopped by a signal); these end at
    // their arguments, before any stream, so in the VMs they run in-process (no Node start-ups).
    const bee = (args: string[]) => (CLI_IN_PROCESS ? cliInProcess(args) : runCli(args));
    const peer = (...args: string[]) => {
      try {
        execFileSync('bpftool', args, { stdio: 'pipe' });
        return '';
      } catch (e) {
        return String((e as { stderr: Buffer }).stderr).split('\n')[0]!;
      }
    };
    for (const [args, status] of [
      [['cpu', '0'], 2],
      [['cpu'], 2],
      [['cpu', 'x', 'index', '0'], 2],
      [['bogus', '1'], 2],
    ] as const) {
      const r = bee(['map', 'event_pipe', 'pinned', map(), ...args]);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr.startsWith(peer('map', 'event_pipe', 'pinned', map(), ...args)), r.stderr).toBe(true);
    }
    // A map that is not a perf event array.
    const other = `${pins}/other`;
    execFileSync('bpftool', ['map', 'create', other, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'evp_other']);
    const r = bee(['map', 'event_pipe', 'pinned', other]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`${peer('map', 'event_pipe', 'pinned', other)}\n`);
  });
});
