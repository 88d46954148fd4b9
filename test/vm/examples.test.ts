// The kprobe flavours of the examples, run with `bee-ts run` inside Debian's kernel.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { need, needKernel, root } from '../helpers.js';
import { entries, startRun } from '../run-helper.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const ex = (n: string) => `${root}/examples/kprobe/${n}.o`;

describe.skipIf(skip)('kprobe examples in the VM', () => {
  it('tcpconnect: tcp_v4_connect kprobe + kretprobe count connections', async () => {
    const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
    await new Promise((res) => server.once('listening', res));
    const port = (server.address() as net.AddressInfo).port;
    const r = await startRun(ex('tcpconnect'));
    for (let i = 0; i < 2; i++) await new Promise<void>((res) => net.connect(port, '127.0.0.1', function (this: net.Socket) { this.end(); res(); }).on('error', () => res()));
    const want = JSON.stringify({ daddr: '127.0.0.1', dport: String(port), saddr: '127.0.0.1' });
    await r.until((l) => l.some((x) => x.mapName === 'counter_connections' && (x.entries as { key: object; value: string }[]).some((e) => JSON.stringify(e.key) === want && e.value === '2')), 30000);
    expect(await r.metrics()).toContain(`ebpf_solo_io_counter_connections{saddr="127.0.0.1",daddr="127.0.0.1",dport="${port}"} 2`);
    expect(await r.stop()).toBe(0);
    server.close();
  });

  it('opensnoop and execsnoop: kprobes print events', async () => {
    const o = await startRun(ex('opensnoop'));
    const file = `${process.env.TMPDIR ?? '/tmp'}/bee-vm-open-${process.pid}`;
    fs.writeFileSync(file, 'x');
    await o.until((l) => l.some((x) => (x.entry as Record<string, string> | undefined)?.fname === file), 30000);
    expect(await o.stop()).toBe(0);
    const e = await startRun(ex('execsnoop'));
    execFileSync('/bin/true');
    await e.until((l) => l.some((x) => /\/true$/.test((x.entry as Record<string, string> | undefined)?.filename ?? '')), 30000);
    expect(entries(e, 'print_execs').length).toBeGreaterThan(0);
    expect(await e.stop()).toBe(0);
  });

  it('readlatency and activeconn: kretprobe histograms and tcp_set_state gauges', async () => {
    const r = await startRun(ex('readlatency'));
    for (let i = 0; i < 50; i++) fs.readFileSync('/proc/self/stat');
    for (let i = 0; i < 100 && !/hist_vfs_read_us_count\{op="vfs_read"\} [1-9]/.test(await r.metrics()); i++) await new Promise((res) => setTimeout(res, 100));
    expect(await r.metrics()).toMatch(/ebpf_solo_io_hist_vfs_read_us_count\{op="vfs_read"\} [1-9]/);
    expect(await r.stop()).toBe(0);
    const server = net.createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((res) => server.once('listening', res));
    const port = (server.address() as net.AddressInfo).port;
    const a = await startRun(ex('activeconn'));
    const sock = await new Promise<net.Socket>((res) => { const s = net.connect(port, '127.0.0.1', () => res(s)); });
    for (let i = 0; i < 100 && !(await a.metrics()).includes('ebpf_solo_io_gauge_active{saddr="127.0.0.1",daddr="127.0.0.1"}'); i++) await new Promise((res) => setTimeout(res, 100));
    // This flavour keys by address pair only: other loopback connections of this run count too.
    expect(await a.metrics()).toMatch(/ebpf_solo_io_gauge_active\{saddr="127.0.0.1",daddr="127.0.0.1"\} [1-9]/);
    sock.destroy();
    expect(await a.stop()).toBe(0);
    server.close();
  });
});
