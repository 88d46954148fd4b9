// OOM guard: `bee-ts run` whose heap grows toward V8's limit stops cleanly (everything detached,
// exit 1, one clear stderr line) instead of "FATAL ERROR: Reached heap limit" and an abort that
// skips every cleanup. The growth is real: a hist_ ring labelled by comm, a flooder that renames
// itself (prctl PR_SET_NAME) before every getppid, and --max-series far past what the heap holds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HeapGuard, HeapLimitError } from '../../src/bee/heap.js';
import { cli, needKernel, root, runCli } from '../helpers.js';
import { progIdsOf, progsLeft } from '../run-helper.js';

describe('HeapGuard', () => {
  it('trips on two samples in a row over the line (not on one: that may be garbage), once, with what to change', () => {
    const samples = [50, 90, 50, 90, 90, 95].map((used) => ({ oldUsed: used << 20, oldLimit: 116 << 20, usable: 100 << 20 }));
    const got: HeapLimitError[] = [];
    const g = new HeapGuard((e) => got.push(e), () => 'ebpf_solo_io_hist_x holds 5 series (--max-series 9)', () => samples.shift()!);
    expect([g.check(), g.check(), g.check(), g.check()]).toEqual([false, false, false, false]);
    expect(g.check()).toBe(true);
    expect(g.check()).toBe(true);
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(HeapLimitError);
    expect(got[0]!.code).toBe('HEAP_LIMIT');
    expect(got[0]!.message).toBe(
      'the JavaScript heap holds 90 MiB, near its 116 MiB limit: stopped the run (detaching everything) before V8 aborts; ebpf_solo_io_hist_x holds 5 series (--max-series 9). Lower what grows (--max-series, fewer label values) or raise the limit (NODE_OPTIONS=--max-old-space-size=MiB)',
    );
  });
});

const skip = needKernel();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-heap-${process.pid}-`));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// One series per comm: `le` is observed, `comm` is the label.
const PROBE = `#include "vmlinux.h"
#include "bpf_helpers.h"
struct ev { char comm[16]; u64 le; };
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
	__type(value, struct ev);
} hist_by_comm SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct ev *e = bpf_ringbuf_reserve(&hist_by_comm, sizeof(*e), 0);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->le = 1;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
`;

// Renames itself before each getppid until killed (a fresh label value per event).
const FLOOD = `const koffi = require(${JSON.stringify(path.join(root, 'node_modules', 'koffi'))});
const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int, const char *, unsigned long, unsigned long, unsigned long)');
const getppid = libc.func('int getppid()');
for (let i = 0; ; i++) { prctl(15, 'bh' + i.toString(36), 0, 0, 0); getppid(); }`;

describe.skipIf(skip)('bee-ts run near the heap limit', () => {
  it('stops cleanly: exit 1, a clear line on stderr, no V8 abort, its programs gone', async () => {
    const src = path.join(dir, 'hist_by_comm.c');
    fs.writeFileSync(src, PROBE);
    const built = runCli(['build', src, '-o', path.join(dir, 'hist_by_comm.o')]);
    expect({ status: built.status, stderr: built.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    const run = spawn(process.execPath, ['--max-old-space-size=64', cli, 'run', path.join(dir, 'hist_by_comm.o'), '--no-tty', '--prom-address', '127.0.0.1', '--prom-port', '0', '--max-series', '100000000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    run.stderr.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => run.once('exit', (code, signal) => res({ code, signal })));
    await new Promise<void>((res, rej) => {
      run.stderr.on('data', () => err.includes('bee-ts: running') && res());
      run.once('exit', (c) => rej(new Error(`exited ${c} before running: ${err}`)));
    });
    const ids = progIdsOf(run.pid!);
    expect(ids.length).toBe(1);
    const flood = spawn(process.execPath, ['-e', FLOOD], { stdio: 'ignore' });
    try {
      // Bounded: the heap fills in seconds; a run that neither stops nor aborts is killed.
      const end = await Promise.race([exited, new Promise<'still running'>((res) => setTimeout(() => res('still running'), 90_000))]);
      if (end === 'still running') run.kill('SIGKILL');
      expect({ end, fatal: /FATAL ERROR|heap out of memory/.test(err) }).toEqual({ end: { code: 1, signal: null }, fatal: false });
    } finally {
      flood.kill('SIGKILL');
    }
    expect(err).toMatch(/^Error: the JavaScript heap holds \d+ MiB, near its 64 MiB limit: stopped the run \(detaching everything\) before V8 aborts; ebpf_solo_io_hist_by_comm holds \d+ series \(--max-series 100000000\)[^.]*\. Lower what grows/m);
    expect(await progsLeft(ids)).toEqual([]);
  }, 180_000);
});
