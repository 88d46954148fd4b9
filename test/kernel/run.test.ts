// End to end: `bee-ts run` on the shipped examples and on fixtures it has never seen, with real
// events (file opens, execs, TCP connections on loopback), JSON lines and scraped /metrics.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childBound, cli, fixture, needKernel, root, runCli, waitUntil } from '../helpers.js';
import { entries, noneLeft, progIds, startRun } from '../run-helper.js';

const skip = needKernel();
const getppid = koffi.load('libc.so.6').func('int getppid()');
/** The files this test opens for the probes to see: a private directory (0700, a fresh name), in $TMPDIR (the VMs' /tmp is read-only). */
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-e2e-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
describe.skipIf(skip)('bee-ts run on the shipped examples', () => {
  it("opensnoop: the README's main command prints live JSON events", async () => {
    const r = await startRun(`${root}/examples/opensnoop.o`);
    const file = path.join(tmp, 'open');
    fs.writeFileSync(file, 'x');
    fs.readFileSync(file);
    await r.until((l) => l.some((x) => (x.entry as Record<string, string> | undefined)?.fname === file));
    const e = entries(r, 'print_opens').find((x) => (x.entry as Record<string, string>).fname === file)!;
    expect(e).toEqual({ entry: { comm: expect.any(String), flags: expect.stringMatching(/^\d+$/), fname: file, pid: String(process.pid), uid: '0' }, mapName: 'print_opens' });
    expect(Object.keys(e)).toEqual(['entry', 'mapName']);
    expect(await r.stop()).toBe(0);
  });

  it('execsnoop: process execs with their parent', async () => {
    // Every exec on the host is traced: this one runs true under a name no other process uses (a
    // symlink: the kernel names the process after the path it was given), so another process
    // running /bin/true meanwhile is not taken for it.
    const dir = fs.mkdtempSync(path.join(tmp, 'exec-'));
    const name = `bt${process.pid}`;
    const bin = `${dir}/${name}`;
    fs.symlinkSync(fs.realpathSync('/bin/true'), bin);
    try {
      const r = await startRun(`${root}/examples/execsnoop.o`);
      execFileSync(bin);
      const mine = (x: Record<string, unknown>) => (x.entry as Record<string, string> | undefined)?.filename === bin;
      await r.until((l) => l.some(mine));
      const e = entries(r, 'print_execs').find(mine)!.entry as Record<string, string>;
      expect(e.ppid).toBe(String(process.pid));
      expect(e.comm).toBe(name);
      expect(await r.stop()).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tcpconnect: a counter of connections by address pair, in JSON and /metrics', async () => {
    const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((res) => server.once('listening', res));
    const port = (server.address() as net.AddressInfo).port;
    const r = await startRun(`${root}/examples/tcpconnect.o`);
    for (let i = 0; i < 3; i++) await new Promise<void>((res) => net.connect(port, '127.0.0.1', function (this: net.Socket) { this.end(); res(); }).on('error', () => res()));
    const want = { daddr: '127.0.0.1', dport: String(port), saddr: '127.0.0.1' };
    await r.until((l) => l.some((x) => x.mapName === 'counter_connections' && (x.entries as { key: object; value: string }[]).some((e) => JSON.stringify(e.key) === JSON.stringify(want) && e.value === '3')));
    expect(await r.metrics()).toContain(`ebpf_solo_io_counter_connections{saddr="127.0.0.1",daddr="127.0.0.1",dport="${port}"} 3`);
    expect(await r.metrics()).toContain('# TYPE ebpf_solo_io_counter_connections counter');
    expect(await r.stop('SIGTERM')).toBe(0);
    server.close();
  });

  it('activeconn: a gauge of open connections that drops when they close', async () => {
    const server = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((res) => server.once('listening', res));
    const port = (server.address() as net.AddressInfo).port;
    const r = await startRun(`${root}/examples/activeconn.o`);
    const socks = await Promise.all([0, 1].map(() => new Promise<net.Socket>((res) => { const s = net.connect(port, '127.0.0.1', () => res(s)); })));
    const series = `ebpf_solo_io_gauge_active{saddr="127.0.0.1",daddr="127.0.0.1",dport="${port}"}`;
    await waitUntil(async () => (await r.metrics()).includes(`${series} 2`), childBound(20_000), 100);
    expect(await r.metrics()).toContain(`${series} 2`);
    for (const s of socks) s.destroy();
    await waitUntil(async () => !(await r.metrics()).includes(series), childBound(20_000), 100);
    expect(await r.metrics()).not.toContain(series);
    expect(await r.stop()).toBe(0);
    server.close();
  });

  it('readlatency: a histogram over le with the default buckets', async () => {
    const r = await startRun(`${root}/examples/readlatency.o`);
    // Reads until the histogram has a count (this process makes them; nobody else needs to).
    await waitUntil(async () => {
      for (let i = 0; i < 20; i++) fs.readFileSync('/proc/self/stat');
      return (await r.metrics()).includes('_count');
    }, childBound(20_000), 100);
    const m = await r.metrics();
    expect(m).toContain('# TYPE ebpf_solo_io_hist_read_latency_us histogram');
    for (const le of ['0', '10', '20', '50', '100', '200', '500', '1000', '2000', '5000', '+Inf']) expect(m).toContain(`ebpf_solo_io_hist_read_latency_us_bucket{le="${le}",syscall="read"}`);
    expect(m).toMatch(/ebpf_solo_io_hist_read_latency_us_count\{syscall="read"\} [1-9]/);
    expect(m).not.toMatch(/hist_read_latency_us\{[^}]*le=/); // le is observed, not a label
    expect(await r.stop()).toBe(0);
  });
});

describe.skipIf(skip)('bee-ts run on probes it has not seen', () => {
  it('stdout a pipe read in bursts: every line arrives whole and in order (a batch the stream still holds is never written over)', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'pipe-'));
    const run = spawn(process.execPath, [cli, 'run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      run.stderr.on('data', (d) => (stderr += d));
      const chunks: Buffer[] = [];
      run.stdout.on('data', (d: Buffer) => chunks.push(d));
      // The reader takes what is there, then stops for 40 ms: the 64 KiB pipe fills and bee-ts's
      // writes are left queued in its stdout stream (written later by libuv) while drains go on.
      const bursts = setInterval(() => {
        run.stdout.pause();
        setTimeout(() => run.stdout.resume(), 40);
      }, 50);
      await waitUntil(() => /bee-ts: running /.test(stderr), childBound(45_000));
      const n = 20_000;
      // Opens of files that do not exist: the probe sees the name at syscall entry all the same.
      const w = spawn(process.execPath, ['-e', `const fs = require('fs'); for (let i = 0; i < ${n}; i++) { try { fs.openSync(${JSON.stringify(dir)} + '/f' + i, 'r'); } catch {} }`], { stdio: 'ignore' });
      await new Promise((r) => w.once('exit', r));
      const mine = () => Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.includes(`${dir}/f`));
      let last = -1;
      await waitUntil(() => {
        const k = mine().length;
        const settled = k === last;
        last = k;
        return settled;
      }, 60_000, 500);
      clearInterval(bursts);
      run.stdout.resume();
      const text = Buffer.concat(chunks).toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      const seqs: number[] = [];
      for (const line of text.slice(0, -1).split('\n')) {
        const e = JSON.parse(line) as { entry: { fname: string }; mapName: string };
        expect(e.mapName).toBe('print_opens');
        const m = /\/f(\d+)$/.exec(e.entry.fname);
        if (e.entry.fname.startsWith(`${dir}/f`)) seqs.push(Number(m![1]));
      }
      // The kernel may skip a few (a full ring while the host is busy); what arrives is whole and in order.
      expect(seqs.length).toBeGreaterThan(n / 2);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    } finally {
      run.kill('SIGINT');
      await new Promise((r) => (run.exitCode !== null || run.signalCode !== null ? r(null) : run.once('exit', r)));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--drain-thread: a thread of its own drains the ring; with it and without every record arrives whole and in order', async () => {
    const n = 3000;
    const seen: Record<string, { seqs: number[]; threads: number }> = {};
    for (const mode of ['thread', 'main'] as const) {
      const dir = fs.mkdtempSync(path.join(tmp, `drain-${mode}-`));
      const r = await startRun(`${root}/examples/opensnoop.o`, ['--no-metrics', ...(mode === 'thread' ? ['--drain-thread'] : [])]);
      try {
        const threads = fs.readdirSync(`/proc/${r.proc.pid}/task`).length;
        // 3000 records of 168 bytes fit in the example's 1 MiB ring: nothing is lost even if a consumer stalls.
        const w = spawn(process.execPath, ['-e', `const fs = require('fs'); for (let i = 0; i < ${n}; i++) { try { fs.openSync(${JSON.stringify(dir)} + '/f' + i, 'r'); } catch {} }`], { stdio: 'ignore' });
        await new Promise((res) => w.once('exit', res));
        const mine = () => entries(r, 'print_opens').filter((x) => (x.entry as Record<string, string>).fname.startsWith(`${dir}/f`));
        await r.until(() => mine().length >= n);
        seen[mode] = { seqs: mine().map((x) => Number(/\/f(\d+)$/.exec((x.entry as Record<string, string>).fname)![1])), threads };
        expect(await r.stop()).toBe(0);
      } finally {
        if (r.proc.exitCode === null && r.proc.signalCode === null) await r.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const all = Array.from({ length: n }, (_, i) => i);
    expect(seen.thread!.seqs).toEqual(all);
    expect(seen.main!.seqs).toEqual(all);
    // The drain thread is one more thread of the process.
    expect(seen.thread!.threads).toBeGreaterThan(seen.main!.threads);
  });

  it("decodes bee's .maps.print convention and every type rule, and leaves nothing loaded after SIGINT", async () => {
    const before = progIds(fixture('bee_types.bpfel.o'));
    const r = await startRun(fixture('bee_types.bpfel.o'), ['--set', `target_tgid=${process.pid}`]);
    getppid();
    await r.until((l) => ['print_typed', 'counter_flows', 'gauge_by_cpu', 'print_perf'].every((m) => l.some((x) => x.mapName === m)));
    expect(entries(r, 'print_perf')[0]).toEqual({ entry: { comm: expect.any(String), pid: String(process.pid) }, mapName: 'print_perf' });
    expect(entries(r, 'print_typed')[0]).toEqual({
      entry: {
        big: '18446744073709551615',
        bytes: ['1', '0', '0', '255'],
        err: 'ENOENT',
        mac: 'aa:00:00:00:00:ff',
        neg: '-7',
        no: 'false',
        proto: 'PROTO_UDP',
        range: { hi: '65535', lo: '1' },
        ratio: '1.5',
        small: '200',
        sport: '443',
        tag: 'bee!',
        took: '1.5µs',
        unknown: '99',
        v4: '127.0.0.1',
        v6: '2001:db8::1',
        yes: 'true',
      },
      mapName: 'print_typed',
    });
    expect(entries(r, 'counter_flows')[0]).toEqual({ entries: [{ key: { daddr: '127.0.0.1', dport: '80' }, value: '1' }], mapName: 'counter_flows' });
    expect(entries(r, 'gauge_by_cpu')[0]).toEqual({ entries: [{ key: { key: '0' }, value: '42' }], mapName: 'gauge_by_cpu' });
    const m = await r.metrics();
    expect(m).toContain('ebpf_solo_io_counter_flows{daddr="127.0.0.1",dport="80"} 1');
    expect(m).toContain('ebpf_solo_io_gauge_by_cpu{key="0"} 42');
    expect(await r.stop()).toBe(0);
    expect(await noneLeft(fixture('bee_types.bpfel.o'), before)).toEqual([]);
  });

  it('suffix convention: events, counters and gauges from .maps.print/.maps.counter/.maps.gauge', async () => {
    const before = progIds(fixture('bee_suffix.bpfel.o'));
    const r = await startRun(fixture('bee_suffix.bpfel.o'), ['--set', `target_pid=${process.pid}`]);
    fs.closeSync(fs.openSync(`/proc/self/stat`, 'r'));
    await r.until((l) => l.some((x) => x.mapName === 'events') && l.some((x) => x.mapName === 'sockets_counter'));
    const e = entries(r, 'events')[0]!.entry as Record<string, string>;
    expect(e).toMatchObject({ daddr: '127.0.0.1', pid: String(process.pid), proto: '6', ok: 'true', took: '1.5µs' });
    expect(await r.metrics()).toMatch(new RegExp(`ebpf_solo_io_sockets_counter\\{saddr="127.0.0.1",daddr="[0-9.]+"\\} \\d+`));
    expect(await r.stop('SIGTERM')).toBe(0);
    expect(await noneLeft(fixture('bee_suffix.bpfel.o'), before)).toEqual([]);
  });

  it('--filter applies to JSON lines; bad filters fail at start', async () => {
    const r = await startRun(`${root}/examples/opensnoop.o`, ['--filter', 'print_opens,fname,bee-filter-yes']);
    // The 'no' open comes first, from this process: the ring keeps order, so had it passed the
    // filter its line would print before the 'yes' line this waits for (no sleep needed).
    fs.writeFileSync(path.join(tmp, 'bee-filter-no'), '');
    fs.writeFileSync(path.join(tmp, 'bee-filter-yes'), '');
    await r.until((l) => l.some((x) => (x.entry as Record<string, string>).fname === path.join(tmp, 'bee-filter-yes')));
    expect(r.lines.every((l) => /bee-filter-yes/.test((l.entry as Record<string, string>).fname))).toBe(true);
    expect(await r.stop()).toBe(0);
    for (const [f, msg] of [
      ['print_opens,fname,(', /invalid regex/],
      ['nope,fname,x', /map 'nope' is not watched/],
      ['print_opens,nofield,x', /has no field 'nofield'/],
    ] as const) {
      const bad = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--filter', f]);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(msg);
    }
  });

  it('fails loudly when the metrics port is taken, leaving nothing loaded', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((res) => blocker.once('listening', res));
    const port = (blocker.address() as net.AddressInfo).port;
    const before = progIds(`${root}/examples/opensnoop.o`);
    const r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--prom-address', '127.0.0.1', '--prom-port', String(port)]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`cannot serve metrics on 127.0.0.1:${port}: the port is in use`));
    expect(await noneLeft(`${root}/examples/opensnoop.o`, before)).toEqual([]);
    blocker.close();
  });

  it('--pin-maps and --pin-progs pin, and a rerun replaces the program pins', async () => {
    const dir = `/sys/fs/bpf/bee-run-${process.pid}`;
    for (let i = 0; i < 2; i++) {
      const r = await startRun(`${root}/examples/opensnoop.o`, ['--pin-maps', `${dir}/maps`, '--pin-progs', `${dir}/progs`]);
      expect(r.stderr).toContain(`Successfully pinned program '${dir}/progs/trace_openat'`);
      expect(fs.readdirSync(`${dir}/maps`).sort()).toEqual(['opensnoo_rodata', 'print_opens']);
      expect(await r.stop()).toBe(0);
    }
    fs.rmSync(dir, { recursive: true });
  });
});
