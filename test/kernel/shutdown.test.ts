// Exit and shutdown that always complete, for the library and for `bee-ts run`: process.exit()
// with idle readers, every fatal signal and uncaught error detaching what was attached (tracefs,
// netlink TC/XDP), `| head -3`, signals during start-up, SIGUSR1, long --duration, pins and their
// lock, stale views after close().
import { execSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, fixture, libEntry, needKernel, root, runCli } from '../helpers.js';
import { progIdsOf, progsLeft, startRun } from '../run-helper.js';

const skip = needKernel();

/** Run an ESM snippet in a child node; resolves with its exit status/signal and how long it took. */
function node(script: string, opts: { timeoutMs?: number; prefix?: string[]; args?: string[] } = {}) {
  const t = Date.now();
  const [cmd, ...pre] = opts.prefix ?? [process.execPath];
  const r = spawnSync(cmd!, [...pre, ...(opts.prefix ? [process.execPath] : []), ...(opts.args ?? []), '--input-type=module', '-e', script], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t };
}


describe.skipIf(skip)('the library never blocks exit and installs no signal handler', () => {
  it('process.exit() with an idle RingBufReader or PerfBufReader returns at once, every time', () => {
    for (const kind of ['RINGBUF', 'PERF_EVENT_ARRAY'] as const) {
      const script = `
        const { createMap, RingBufReader, PerfBufReader, constants } = await import('${libEntry}');
        const t = constants.MapType.${kind};
        const m = createMap({ name: 'idle', type: t, keySize: t === constants.MapType.RINGBUF ? 0 : 4, valueSize: t === constants.MapType.RINGBUF ? 0 : 4, maxEntries: t === constants.MapType.RINGBUF ? 4096 : 2, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf' });
        const r = t === constants.MapType.RINGBUF ? new RingBufReader(m) : new PerfBufReader(m, { pages: 1 });
        r.onRaw(() => {});
        setTimeout(() => process.exit(7), 300);`;
      // A hang (process.exit() waiting on the reader's epoll_wait) is killed at the 30 s timeout
      // and shows as status null; no wall-time bound beyond that (node's start-up under load).
      for (let i = 0; i < 5; i++) {
        const r = node(script);
        expect({ kind, status: r.status, stderr: r.stderr }).toEqual({ kind, status: 7, stderr: '' });
      }
    }
  });

  it('importing bee-ts and attaching installs no signal handler', () => {
    const r = node(`
      const { BpfObject } = await import('${libEntry}');
      const o = BpfObject.open('${root}/examples/opensnoop.o').load();
      o.attachAll();
      console.log(JSON.stringify(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1'].map((s) => process.listenerCount(s))));
      o.close();`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([0, 0, 0, 0, 0]);
  });

  it('closeLinksOnSignals(): every fatal signal and an uncaught error remove tracefs, netlink TC and XDP attachments', async () => {
    const ns = `beesig${process.pid}`;
    const sh = (c: string) => execSync(c, { stdio: 'pipe', encoding: 'utf8' });
    sh(`ip netns add ${ns}`);
    try {
      // One end in our namespace (the child attaches there; tracefs is visible), the other in a
      // namespace of its own, so deleting the namespace removes both.
      const dev = `bsg${process.pid % 10000}a`;
      sh(`ip link add ${dev} type veth peer name bsg${process.pid % 10000}b && ip link set bsg${process.pid % 10000}b netns ${ns} && ip link set ${dev} up`);
      for (const how of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'throw', 'reject'] as const) {
        const script = `
          const { BpfObject, closeLinksOnSignals } = await import('${libEntry}');
          closeLinksOnSignals();
          const o = BpfObject.open('${fixture('attach.bpfel.o')}').load();
          o.program('count_xdp').attach({ iface: '${dev}', xdpMode: 'netlink' });
          o.program('count_tc').attach({ iface: '${dev}', tcMode: 'netlink' });
          o.program('count_uprobe').attach({ target: 'libc.so.6:getppid', pid: process.pid, legacy: true });
          console.log('attached');
          setInterval(() => {}, 1000);
          // The error comes when the test says so (a line on stdin), after it saw the attachments:
          // a timer here raced the test's checks on a loaded host.
          ${how === 'throw' ? "process.stdin.once('data', () => { throw new Error('boom'); });" : how === 'reject' ? "process.stdin.once('data', () => Promise.reject(new Error('boom')));" : ''}`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        await new Promise<void>((res, rej) => {
          child.stdout.on('data', (d) => String(d).includes('attached') && res());
          child.once('exit', () => rej(new Error(`child exited early: ${err}`)));
        });
        // Attached, as iproute2 and tracefs see it.
        expect(sh(`ip link show dev ${dev}`)).toMatch(/xdp/);
        expect(sh(`tc qdisc show dev ${dev}`)).toContain('clsact');
        expect(fs.readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8')).toContain(`bee_ts_${child.pid}/`);
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
        if (how !== 'throw' && how !== 'reject') child.kill(how);
        else child.stdin.write('go\n');
        const end = await exited;
        // The signal's own default action ended it (nobody else listened), after detaching.
        if (how.startsWith('SIG')) expect(end.signal).toBe(how);
        else expect(end.code).not.toBe(0);
        expect({ how, xdp: sh(`ip link show dev ${dev}`).includes('xdp') }).toEqual({ how, xdp: false });
        expect({ how, qdisc: sh(`tc qdisc show dev ${dev}`).includes('clsact') }).toEqual({ how, qdisc: false });
        expect({ how, tracefs: fs.readFileSync('/sys/kernel/tracing/uprobe_events', 'utf8').includes(`bee_ts_${child.pid}/`) }).toEqual({ how, tracefs: false });
      }
    } finally {
      sh(`ip netns del ${ns}`);
    }
  });

  it('a DataView kept from a closed reader reads zeros instead of crashing; dropped objects release their mmaps', () => {
    const r = node(
      `
      const { BpfObject, RingBufReader } = await import('${libEntry}');
      const o = BpfObject.open('${fixture('ringbuf.bpfel.o')}').load();
      const r = new RingBufReader(o.map('rb'));
      const req = Buffer.alloc(48); req.writeUInt32LE(3, 0); req.writeUInt32LE(16, 4);
      o.program('produce').testRun({ ctxIn: req });
      let kept;
      r.consumeRaw((view, off) => { kept ??= { view, off }; });
      const before = kept.view.getUint32(kept.off - 8, true);
      const data = r.data;
      r.close();
      o.close();
      // Read after close: zero pages, not a fault.
      let sum = 0;
      for (let i = 0; i < data.byteLength; i += 4096) sum += data.getUint8(i);
      console.log(JSON.stringify({ before, after: kept.view.getUint32(kept.off - 8, true), sum }));
      // The GC net: objects dropped without close() unmap their data sections and rings.
      const maps = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => /anon_inode:bpf-map/.test(l)).length;
      const fs = await import('node:fs');
      const start = maps();
      const drop = () => {
        for (let i = 0; i < 20; i++) {
          const x = BpfObject.open('${fixture('globals.bpfel.o')}').load();
          x.globals.get('counter');
          new RingBufReader(BpfObject.open('${fixture('ringbuf.bpfel.o')}').load().map('rb'));
        }
      };
      drop();
      const grown = maps() - start;
      for (let i = 0; i < 20; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log(JSON.stringify({ grown, left: maps() - start }));`,
      { args: ['--expose-gc'] },
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    const [stale, gc] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(stale.before).toBe(16); // a 16-byte record header while open
    expect(stale).toMatchObject({ after: 0, sum: 0 });
    expect(gc.grown).toBeGreaterThan(40);
    // Unclosed objects used to keep every mapping until exit; now the GC takes them (V8 may keep
    // the very last few alive a little longer).
    expect(gc.left).toBeLessThan(gc.grown / 8);
  });
});

describe.skipIf(skip)('bee-ts run always exits, detaching everything', () => {
  it('`bee-ts run opensnoop.o | head -3` exits every time', () => {
    // The opens that feed it come from a shell loop beside the pipeline: a timer in this process
    // would not fire while spawnSync blocks it (a quiet host then gave no lines and a 20 s hang).
    let ok = 0;
    const runs = 10;
    const codes: string[] = [];
    for (let i = 0; i < runs; i++) {
      // The feeder ends with its shell (kill -0 $$), even if the timeout below kills the shell.
      const script = `(while kill -0 $$ 2>/dev/null; do cat /etc/hostname >/dev/null; sleep 0.005; done) & F=$!
${process.execPath} ${cli} run ${root}/examples/opensnoop.o --no-tty --no-metrics 2>/dev/null | head -3 >/dev/null; S=\${PIPESTATUS[0]}
kill $F; echo $S`;
      // 40 s: a run takes ~1 s on a quiet host and up to ~9 s at load 13 on 2 cores; a hang never ends.
      const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 40_000, killSignal: 'SIGKILL' });
      codes.push(`${r.status}:${r.stdout.trim()}`);
      if (r.status === 0 && r.stdout.trim() === '0') ok++;
    }
    expect({ ok, codes }).toEqual({ ok: runs, codes: Array(runs).fill('0:0') });
  }, 450_000);

  it('a probe that watches no maps, without metrics, runs until --duration or a signal (it exited 13 at once)', async () => {
    // Nothing but the runner's own timer keeps such a run alive: when that timer and the
    // --duration timer were unref'd, Node found the loop empty and exited 13 (unsettled await).
    const args = [cli, 'run', fixture('attach.bpfel.o'), '--no-tty', '--no-metrics'];
    const timed = spawnSync(process.execPath, [...args, '--duration', '300ms'], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
    expect({ status: timed.status, stderr: timed.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('watching no maps') });
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    await new Promise<void>((res, rej) => {
      child.stderr.on('data', (d) => (err += d) && err.includes('bee-ts: running') && res());
      child.once('exit', (c) => rej(new Error(`exited ${c} before running: ${err}`)));
    });
    const ids = progIdsOf(child.pid!);
    expect(ids.length).toBeGreaterThan(0);
    // Still there once start-up is long over (an empty loop ends at once; give it real time).
    await new Promise((res) => setTimeout(res, 500));
    expect(child.exitCode).toBeNull();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(await progsLeft(ids)).toEqual([]);
  });

  it('SIGTERM, SIGHUP and SIGQUIT stop it like SIGINT: exit 0, its programs gone', async () => {
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
      const r = await startRun(`${root}/examples/opensnoop.o`);
      const ids = progIdsOf(r.proc.pid!);
      expect(ids.length).toBeGreaterThan(0);
      const t = Date.now();
      expect(await r.stop(sig)).toBe(0);
      expect(Date.now() - t).toBeLessThan(2000);
      expect(await progsLeft(ids)).toEqual([]);
    }
  });

  it('SIGUSR1 does not open the inspector in the root process', async () => {
    const r = await startRun(`${root}/examples/opensnoop.o`);
    r.proc.kill('SIGUSR1');
    await new Promise((res) => setTimeout(res, 700));
    expect(r.stderr).not.toMatch(/Debugger listening/);
    expect(r.proc.exitCode).toBeNull();
    expect(await r.stop()).toBe(0);
  });

  it('a signal during start-up is obeyed at once', async () => {
    for (const delay of [150, 400, 800, 1200]) {
      const child = spawn(process.execPath, [cli, 'run', `${root}/examples/opensnoop.o`, '--no-tty', '--prom-address', '127.0.0.1', '--prom-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((res) => child.once('exit', (c, s) => res(c ?? (s ? -1 : null))));
      await new Promise((res) => setTimeout(res, delay));
      child.kill('SIGINT');
      const t = Date.now();
      const code = await Promise.race([exited, new Promise<string>((res) => setTimeout(() => res('hung'), 5000))]);
      if (code === 'hung') child.kill('SIGKILL');
      expect({ delay, code, err: code === 'hung' ? err : '' }).toEqual({ delay, code: expect.any(Number), err: '' });
      expect(Date.now() - t).toBeLessThan(2500);
    }
  });

  it('--duration 40000m keeps running (a 32-bit timer overflow used to stop it after 1 ms)', async () => {
    const r = await startRun(`${root}/examples/opensnoop.o`, ['--duration', '40000m']);
    await new Promise((res) => setTimeout(res, 1500));
    expect(r.proc.exitCode).toBeNull();
    expect(await r.stop()).toBe(0);
    const bare = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '60']);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/--duration: '60' has no unit: write a Go duration such as 60s/);
  });

  it('SIGINT with a half-sent /metrics request still exits at once', async () => {
    const r = await startRun(`${root}/examples/opensnoop.o`);
    const sock = net.connect(r.port, '127.0.0.1');
    await new Promise((res) => sock.once('connect', res));
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    await new Promise((res) => setTimeout(res, 100));
    const t = Date.now();
    expect(await r.stop()).toBe(0);
    expect(Date.now() - t).toBeLessThan(2000);
    sock.destroy();
  });
});

describe.skipIf(skip)('bee-ts run pins', () => {
  it('never deletes what is not its own program pin, and two runs cannot share a pin directory', async () => {
    const dir = `/sys/fs/bpf/bee-pins-${process.pid}`;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-pins-'));
    try {
      // A map pinned where the program pin would go: refused, left alone.
      fs.mkdirSync(`${dir}/progs`, { recursive: true, mode: 0o700 });
      expect(runCli(['map', 'create', `${dir}/progs/trace_openat`, 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'decoy']).status).toBe(0);
      let r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '100ms', '--pin-progs', `${dir}/progs`]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/--pin-progs: \S+\/progs\/trace_openat exists and is a pinned map, not a program; bee-ts replaces only its own program pins/);
      expect(fs.existsSync(`${dir}/progs/trace_openat`)).toBe(true);
      // A plain file (not a BPF pin) is not deleted either.
      fs.writeFileSync(`${tmp}/trace_openat`, 'precious');
      r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '100ms', '--pin-progs', tmp]);
      expect(r.stderr).toMatch(/trace_openat exists and is not a BPF pin/);
      expect(fs.readFileSync(`${tmp}/trace_openat`, 'utf8')).toBe('precious');
      // One run per --pin-maps directory: the second fails clearly, and works once the first is gone.
      const a = await startRun(`${root}/examples/opensnoop.o`, ['--pin-maps', `${dir}/maps`]);
      r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '100ms', '--pin-maps', `${dir}/maps`]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/--pin-maps \S+\/maps: in use by another bee-ts run/);
      // Exit 13 here was Node's "unsettled top-level await": the wait for stdout to drain listened
      // for 'drain' (never emitted below the high-water mark) behind an unref'd timer.
      const code = await a.stop();
      expect({ code, stderr: a.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '100ms', '--pin-maps', `${dir}/maps`]);
      expect(r.status).toBe(0);
      // --set on a .rodata reused from a pin is an error naming it, not silently ignored.
      r = runCli(['run', `${root}/examples/opensnoop.o`, '--no-tty', '--no-metrics', '--duration', '100ms', '--pin-maps', `${dir}/maps`, '--set', 'target_pid=42']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/--set target_pid=42: the global lives in a map reused from --pin-maps \S+\/maps, which holds target_pid=0/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
