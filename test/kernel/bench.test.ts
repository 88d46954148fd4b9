// The ring buffer benchmark runs once per test pass as a smoke test (numbers come from `npm run bench`).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, hasCommand, need, needKernel, root, runCli } from '../helpers.js';

const skip = needKernel();
/** How long a bench child may run here (its test waits that long, plus a margin). */
const BENCH_CHILD_MS = 300_000;

describe.skipIf(skip)('bee-ts bench ringbuf --json', () => {
  it('prints rows for bee-ts, bee-ts-decoded and libbpf from one run', () => {
    if (need(hasCommand('gcc'), 'gcc missing: no libbpf peer')) return;
    const r = runCli(['bench', 'ringbuf', '--json', '--size', '16', '--seconds', '1', '--rounds', '1', '--warmup', '1', '--stream-rounds', '1']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const impls = new Set(j.rows.map((x: { impl: string }) => x.impl));
    expect(impls).toEqual(new Set(['bee-ts', 'bee-ts-decoded', 'libbpf']));
    for (const row of j.rows) {
      expect(row.recordsPerSec).toBeGreaterThan(0);
      expect(['consume', 'stream']).toContain(row.mode);
      expect(row.size).toBe(16);
      expect(typeof row.drops).toBe('number');
    }
    const stream = j.rows.filter((x: { mode: string }) => x.mode === 'stream');
    expect(stream.length).toBe(6);
    // Streaming is reported as the consumer's CPU per record (both consumers) and drops.
    for (const row of stream) expect(row.cpuNsPerRecord).toBeGreaterThan(0);
    expect(Object.keys(j.ratios)).toContain('bee-ts/libbpf stream adaptive 16B');
    const apis = j.rows.filter((x: { impl: string; mode: string }) => x.impl === 'bee-ts' && x.mode === 'consume').map((x: { api: string }) => x.api);
    expect(apis.sort()).toEqual(['batch', 'record']);
    expect(Object.keys(j.ratios)).toContain('bee-ts/libbpf consume 16B');
    expect(Object.keys(j.ratios)).toContain('bee-ts (batch)/libbpf consume 16B');
  });

  it('mixed record sizes: every consumer drains the same full ring, rates in CPU and wall time', () => {
    if (need(hasCommand('gcc'), 'gcc missing: no libbpf peer')) return;
    const r = runCli(['bench', 'ringbuf', '--json', '--size', 'mixed', '--rounds', '1', '--warmup', '0', '--cycles', '2', '--no-stream']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rows.map((x: { impl: string; api?: string }) => `${x.impl}${x.api ? ` ${x.api}` : ''}`).sort()).toEqual(['bee-ts batch', 'bee-ts record', 'libbpf']);
    for (const row of j.rows) {
      expect(row.size).toBe('mixed');
      expect(row.drops).toBe(0);
      expect(row.recordsPerSec).toBeGreaterThan(0);
      expect(row.wallRecordsPerSec).toBeGreaterThan(0);
    }
    expect(Object.keys(j.ratios)).toContain('bee-ts/libbpf consume mixed sizes');
  });
});

describe.skipIf(skip)('bee-ts bench ringbuf: a peer that fails', () => {
  it('an error nobody caught ends the process, and its pins of the ring and the producer go with it', () => {
    // A "gcc" that builds a peer printing nothing: parsing its output throws in a callback, which
    // the CLI ends with process.exit(1) (the bench's finally never runs).
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-fake-gcc-'));
    try {
      fs.writeFileSync(path.join(bin, 'gcc'), '#!/bin/sh\nwhile [ "$1" != -o ]; do shift; done\nprintf "#!/bin/sh\\nexit 0\\n" > "$2"; chmod 700 "$2"\n', { mode: 0o700 });
      const r = spawnSync(process.execPath, [cli, 'bench', 'ringbuf', '--json', '--size', '16', '--rounds', '1', '--warmup', '0', '--cycles', '1', '--no-stream'], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(/^Error: /m);
      expect(fs.existsSync(`/sys/fs/bpf/bee-bench-${r.pid}`), 'the pin folder outlived the process').toBe(false);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)('bee-ts bench ringbuf: a signal', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s ends it with 128 + the signal, its pins removed', async (sig) => {
    const child = spawn(process.execPath, [cli, 'bench', 'ringbuf', '--json', '--size', '16', '--rounds', '50', '--warmup', '0', '--no-stream'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const pins = `/sys/fs/bpf/bee-bench-${child.pid}`;
    try {
      // The signal once the ring and the producer are pinned (50 rounds take far longer).
      for (let i = 0; i < 600 && !fs.existsSync(`${pins}/produce_16`); i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.existsSync(`${pins}/produce_16`), `no pins after 30 s: ${stderr}`).toBe(true);
      child.kill(sig);
      expect(await ended, stderr).toBe(128 + os.constants.signals[sig]);
      expect(fs.existsSync(pins), 'the pin folder outlived the process').toBe(false);
    } finally {
      child.kill('SIGKILL');
      fs.rmSync(pins, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(skip)('bench/run-events --json', () => {
  // Two tools' start-ups (bpftrace compiles its program with LLVM) take over 120 s on a loaded
  // 2-core host; the test waits as long as the child may run (the bench bounds each wait inside).
  it('prints bee-ts and bpftrace rows (CPU per event, drops) from one run', { timeout: BENCH_CHILD_MS + 10_000 }, () => {
    if (need(hasCommand('bpftrace'), 'bpftrace is not installed')) return;
    const out = execFileSync(process.execPath, [`${root}/bench/run-events.mjs`, '--runs', '1', '--warmup', '0', '--rate', '2000', '--seconds', '1', '--json'], { encoding: 'utf8', timeout: BENCH_CHILD_MS });
    const j = JSON.parse(out);
    expect(j.rows.map((r: { tool: string }) => r.tool)).toEqual(['bee-ts', 'bpftrace']);
    for (const r of j.rows) {
      expect(r.made).toBe(2000);
      expect(r.lines).toBeGreaterThan(0);
      expect(r.usPerEvent).toBeGreaterThan(0);
      expect(r.drops).toBeGreaterThanOrEqual(0);
      expect(r.drops).toBeLessThanOrEqual(2000);
      for (const x of r.rounds) expect(x.startMs).toBeGreaterThan(0);
      // Drops split by where they happen (BPF run statistics): the two parts add up.
      expect(r.afterProbe + r.notRun).toBe(r.drops);
      expect(r.afterProbe).toBeGreaterThanOrEqual(0);
    }
    expect(j.load[0]).toBeGreaterThanOrEqual(0);
  });
});

describe.skipIf(skip)('bench/load --json', () => {
  it('prints bee-ts, bpftool and node -e 0 rows for a CO-RE and a non-CO-RE object from one run', { timeout: BENCH_CHILD_MS + 10_000 }, () => {
    if (need(hasCommand('bpftool'), 'bpftool is not installed')) return;
    const out = execFileSync(process.execPath, [`${root}/bench/load.mjs`, '--runs', '1', '--warmup', '0', '--json'], { encoding: 'utf8', timeout: BENCH_CHILD_MS });
    const j = JSON.parse(out);
    expect(j.rows.map((r: { command: string }) => r.command)).toEqual(['node -e 0', 'bee-ts CO-RE', 'bpftool CO-RE', 'bee-ts non-CO-RE', 'bpftool non-CO-RE']);
    for (const r of j.rows) {
      expect(r.wallMs).toBeGreaterThan(0);
      expect(r.cpuMs).toBeGreaterThanOrEqual(0);
    }
  });
});

describe.skipIf(skip)('bench/load-inproc --json', () => {
  it('prints first and warm loads of bee-ts and the libbpf peer for a CO-RE and a non-CO-RE object from one run', { timeout: BENCH_CHILD_MS + 10_000 }, () => {
    if (need(hasCommand('gcc'), 'gcc missing: no libbpf peer')) return;
    const out = execFileSync(process.execPath, [`${root}/bench/load-inproc.mjs`, '--runs', '1', '--warmup', '0', '--warm', '2', '--json'], { encoding: 'utf8', timeout: BENCH_CHILD_MS });
    const j = JSON.parse(out);
    expect(j.rows.map((r: { impl: string; object: string }) => `${r.impl} ${r.object}`)).toEqual(['bee-ts CO-RE', 'libbpf CO-RE', 'bee-ts non-CO-RE', 'libbpf non-CO-RE']);
    for (const r of j.rows) {
      for (const k of ['firstCpuMs', 'firstWallMs', 'warmCpuMs', 'warmWallMs']) expect(r[k]).toBeGreaterThanOrEqual(0);
      expect(r.firstWallMs).toBeGreaterThan(0);
      // bee-ts's process times its import of the library too; libbpf's peer has none.
      if (r.impl === 'bee-ts') expect(r.importCpuMs).toBeGreaterThan(0);
      else expect(r.importCpuMs).toBeNull();
    }
    expect(Object.keys(j.ratios)).toContain('first CO-RE cpu');
  });
});
