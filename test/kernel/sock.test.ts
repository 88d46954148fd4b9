// Socket-side attach kinds on the real kernel: a socket filter on one UDP socket (counting, then
// dropping), sk_lookup on this network namespace (counting lookups for one port, then refusing
// them), a flow dissector on a namespace the test creates (counting the packets RPS hashes),
// and uprobe.session (entry and return in one program).
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { linkInfo } from '../../src/syscall/info.js';
import { fixture, needKernel, tcpPair, waitUntil } from '../helpers.js';

const skip = needKernel();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });

function udpFd(s: dgram.Socket): number {
  const state = (s as unknown as Record<symbol, { handle: { fd: number } }>)[Object.getOwnPropertySymbols(s).find((x) => String(x).includes('state'))!]!;
  return state.handle.fd;
}

async function udpReceiver(): Promise<{ sock: dgram.Socket; port: number; got: Buffer[] }> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, got };
}

async function sendUdp(port: number, n: number, payload: Buffer): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (let i = 0; i < n; i++) await new Promise<void>((r) => s.send(payload, port, '127.0.0.1', () => r()));
  s.close();
  await sleep(200);
}

/** Connect to 127.0.0.1:port; resolves 'ok' or the error code. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve('ok');
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe.skipIf(skip)('socket-side attach kinds', () => {
  it('a socket filter counts what one UDP socket receives, drops it when told to, and detaches on close', async () => {
    const payload = Buffer.from('bee-socket-filter');
    const rx = await udpReceiver();
    try {
      using o = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_socket'] }).load();
      {
        using l = o.program('count_socket').attach({ socket: udpFd(rx.sock) });
        expect(l.kind).toBe('socket_filter');
        await sendUdp(rx.port, 3, payload);
        await waitUntil(() => rx.got.length >= 3);
        expect(rx.got.map(String)).toEqual([String(payload), String(payload), String(payload)]);
        expect(o.globals.get('socket_hits')).toBe(3n);
        expect(o.globals.get('socket_bytes') as bigint).toBeGreaterThanOrEqual(BigInt(3 * payload.length));
      }
      await sendUdp(rx.port, 2, payload);
      await waitUntil(() => rx.got.length >= 5);
      expect(rx.got.length).toBe(5);
      expect(o.globals.get('socket_hits')).toBe(3n); // detached: not counted

      using d = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_socket'] });
      d.setConstant('drop_all', 1);
      d.load();
      using _l = d.program('count_socket').attachToSocket(udpFd(rx.sock));
      await sendUdp(rx.port, 3, payload);
      // Loopback delivery can be deferred to ksoftirqd on a busy host: wait for the filter's runs.
      await waitUntil(() => (d.globals.get('socket_hits') as bigint) >= 3n);
      expect(d.globals.get('socket_hits')).toBe(3n);
      expect(rx.got.length).toBe(5); // all three dropped by the filter
    } finally {
      rx.sock.close();
    }
  });

  it('sk_lookup on this netns sees lookups for its port only, and SK_DROP refuses connections', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      using o = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_lookup'] });
      o.setConstant('lookup_port', port);
      o.load();
      {
        using l = o.program('count_lookup').attach();
        expect(l.kind).toBe('sk_lookup');
        expect(linkInfo(l.fd!.value).type).toBe(5 /* BPF_LINK_TYPE_NETNS */);
        expect(await tryConnect(port)).toBe('ok');
        expect(o.globals.get('lookup_hits') as bigint).toBeGreaterThanOrEqual(1n);
      }
      using d = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_lookup'] });
      d.setConstant('lookup_port', port).setConstant('lookup_drop', 1);
      d.load();
      {
        using _l = d.program('count_lookup').attach();
        expect(await tryConnect(port)).toBe('ECONNREFUSED');
        expect(d.globals.get('lookup_hits') as bigint).toBeGreaterThanOrEqual(1n);
      }
      expect(await tryConnect(port)).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('a flow dissector on a netns the test creates dissects the packets RPS hashes there', () => {
    const ns = `bee-fd-${process.pid}`;
    sh(`ip netns add ${ns}`);
    try {
      // RPS on lo: every packet received there is hashed (get_rps_cpu → skb_get_hash), by the flow dissector.
      sh(`ip -n ${ns} link set lo up && ip netns exec ${ns} sh -c 'echo 1 > /sys/class/net/lo/queues/rx-0/rps_cpus'`);
      using o = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_flow'] }).load();
      using l = o.program('count_flow').attach({ netns: `/run/netns/${ns}` });
      expect(l.kind).toBe('flow_dissector');
      const send = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('x',9,'127.0.0.1',()=>{if(++n<5)go();else s.close()});go();`;
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', send], { stdio: 'ignore' });
      expect(o.globals.get('flow_hits') as bigint).toBeGreaterThanOrEqual(5n);
    } finally {
      sh(`ip netns del ${ns}`);
    }
  });

  it.skipIf(needKernel('6.13', 'uprobe.session links', linkFeatures.uprobeSession))('uprobe.session runs one program at entry and return (attach type TRACE_UPROBE_SESSION, not UPROBE_MULTI)', () => {
    const getppid = koffi.load('libc.so.6').func('int getppid()');
    using o = BpfObject.open(fixture('uprobe_session.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    using l = o.program('on_getppid').attach();
    expect(l.kind).toBe('uprobe.session');
    for (let i = 0; i < 5; i++) getppid();
    expect(o.globals.get('entries')).toBe(5n);
    expect(o.globals.get('returns')).toBe(5n);
    expect(fs.existsSync('/proc/self')).toBe(true);
  });

  it('sk_skb stream_parser + stream_verdict, and sk_skb/verdict, on a SOCKMAP see (and pass) every byte a socket receives', async () => {
    for (const progs of [['parser', 'stream_verdict'], ['skb_verdict']]) {
      using o = BpfObject.open(fixture('sk_skb.bpfel.o'), { autoload: progs }).load();
      // Programs first: a socket added to the map afterwards gets them.
      const links = o.attachAll();
      expect(links.map((l) => l.kind)).toEqual(progs.map(() => 'sockmap'));
      const conn = await tcpPair();
      try {
        o.map('skb_map').update(0, conn.fd);
        const data = Buffer.alloc(64 << 10, 0x5a);
        expect((await conn.send(data)).equals(data)).toBe(true);
        expect(o.globals.get('verdict_bytes')).toBe(BigInt(data.length));
        expect(o.globals.get('verdict_calls') as bigint).toBeGreaterThanOrEqual(1n);
        if (progs.includes('parser')) expect(o.globals.get('parser_calls') as bigint).toBeGreaterThanOrEqual(1n);
      } finally {
        conn.close();
        for (const l of links) l.close();
      }
    }
  });
});
