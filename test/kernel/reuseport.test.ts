// SO_REUSEPORT selectors (SEC("sk_reuseport"), SEC("sk_reuseport/migrate")) attached with
// attachToSocket: two UDP sockets share a port, the program sends every datagram to the one at
// the index it is told, where the kernel's hash would spread them; detached, the hash is back.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';

const skip = needKernel();
const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int, int, int)');
const setsockopt = libc.func('int setsockopt(int, int, int, _In_ int *, uint32)');
const bind = libc.func('int bind(int, _In_ uint8_t *, uint32)');
const getsockname = libc.func('int getsockname(int, _Out_ uint8_t *, _Inout_ uint32 *)');
const recv = libc.func('long recv(int, _Out_ uint8_t *, size_t, int)');
const listen = libc.func('int listen(int, int)');
const connect = libc.func('int connect(int, _In_ uint8_t *, uint32)');
const accept4 = libc.func('int accept4(int, void *, void *, int)');
const setns = libc.func('int setns(int, int)');
const CLONE_NEWNET = 0x40000000;
const SOCK_STREAM = 1;
const close = libc.func('int close(int)');
const [AF_INET, SOCK_DGRAM, SOCK_NONBLOCK, SOL_SOCKET, SO_REUSEPORT] = [2, 2, 0o4000, 1, 15];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sockaddrIn(port: number): Uint8Array {
  const a = Buffer.alloc(16);
  a.writeUInt16LE(AF_INET, 0);
  a.writeUInt16BE(port, 2);
  a.set([127, 0, 0, 1], 4);
  return a;
}

/** Two non-blocking sockets (UDP, or TCP listening) with SO_REUSEPORT on one 127.0.0.1 port (the kernel picks it). */
function reuseportPair(type = SOCK_DGRAM): { fds: [number, number]; port: number } {
  const fds: number[] = [];
  let port = 0;
  for (let i = 0; i < 2; i++) {
    const fd = socket(AF_INET, type | SOCK_NONBLOCK, 0) as number;
    expect(fd).toBeGreaterThanOrEqual(0);
    fds.push(fd);
    expect(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, [1], 4)).toBe(0);
    expect(bind(fd, sockaddrIn(port), 16)).toBe(0);
    if (type === SOCK_STREAM) expect(listen(fd, 16)).toBe(0);
    if (!port) {
      const sa = Buffer.alloc(16);
      const len = [16];
      expect(getsockname(fd, sa, len)).toBe(0);
      port = sa.readUInt16BE(2);
    }
  }
  return { fds: fds as [number, number], port };
}

function drain(fd: number): number {
  const buf = Buffer.alloc(64);
  let n = 0;
  while ((recv(fd, buf, buf.length, 0) as number) >= 0) n++;
  return n;
}

/**
 * Send `n` datagrams, each from a socket of its own (a new source port, so a new hash), then
 * collect what each of the two sockets received until all `n` arrived (bounded wait).
 */
async function spread(fds: [number, number], port: number, n: number): Promise<[number, number]> {
  for (let i = 0; i < n; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.send('x', port, '127.0.0.1', () => r()));
    s.close();
  }
  const got: [number, number] = [0, 0];
  for (let deadline = Date.now() + 10_000; got[0] + got[1] < n && Date.now() < deadline; await sleep(20)) {
    got[0] += drain(fds[0]);
    got[1] += drain(fds[1]);
  }
  return got;
}

/** Run `f` with this thread in the network namespace at `path` (sockets made meanwhile stay there). */
function inNetns<T>(path: string, f: () => T): T {
  const self = fs.openSync('/proc/thread-self/ns/net', 'r');
  const target = fs.openSync(path, 'r');
  try {
    expect(setns(target, CLONE_NEWNET)).toBe(0);
    try {
      return f();
    } finally {
      expect(setns(self, CLONE_NEWNET)).toBe(0);
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(self);
  }
}

describe.skipIf(skip)('SO_REUSEPORT selectors', () => {
  for (const prog of ['select_one', 'select_or_migrate'])
    it(`${prog}: every datagram goes to the socket it picks; detached, the kernel's hash spreads them again`, async () => {
      const { fds, port } = reuseportPair();
      try {
        using o = BpfObject.open(fixture('reuseport.bpfel.o'), { autoload: [prog] });
        o.setConstant('pick', 1);
        o.load();
        const group = o.map('group');
        fds.forEach((fd, i) => group.update(i, BigInt(fd)));
        {
          using l = o.program(prog).attachToSocket(fds[0]);
          expect(l.kind).toBe('sk_reuseport');
          expect(await spread(fds, port, 16)).toEqual([0, 16]);
          expect(o.globals.get('selected')).toBe(16n);
          expect(o.globals.get('select_failed')).toBe(0n);
          expect(o.globals.get('migrations')).toBe(0n);
        }
        // 32 new source ports hashed over two sockets: all on one has probability 2^-31.
        const after = await spread(fds, port, 32);
        expect(after[0] + after[1]).toBe(32);
        expect(after[0]).toBeGreaterThan(0);
        expect(o.globals.get('selected')).toBe(16n);
      } finally {
        for (const fd of fds) close(fd);
      }
    });

  it('select_or_migrate: connections waiting on a listener that closes are moved to the one it picks (net.ipv4.tcp_migrate_req in a netns of the test)', () => {
    const ns = `beerp${process.pid}`;
    execFileSync('sh', ['-c', `ip netns add ${ns} && ip -n ${ns} link set lo up && ip netns exec ${ns} sysctl -qw net.ipv4.tcp_migrate_req=1`]);
    const clients: number[] = [];
    let fds: [number, number] | undefined;
    try {
      using o = BpfObject.open(fixture('reuseport.bpfel.o'), { autoload: ['select_or_migrate'] });
      o.setConstant('pick', 0).setConstant('migrate_to', 1);
      o.load();
      const accepted = inNetns(`/run/netns/${ns}`, () => {
        const pair = reuseportPair(SOCK_STREAM);
        fds = pair.fds;
        const group = o.map('group');
        pair.fds.forEach((fd, i) => group.update(i, BigInt(fd)));
        using _l = o.program('select_or_migrate').attachToSocket(pair.fds[0]);
        // Four connections, all to listener 0 (pick), left in its accept queue.
        for (let i = 0; i < 4; i++) {
          const c = socket(AF_INET, SOCK_STREAM, 0) as number;
          clients.push(c);
          expect(connect(c, sockaddrIn(pair.port), 16)).toBe(0);
        }
        expect(o.globals.get('selected')).toBe(4n);
        close(pair.fds[0]); // listener 0 goes: its queue is migrated through the program
        let n = 0;
        for (let fd = accept4(pair.fds[1], null, null, 0) as number; fd >= 0; fd = accept4(pair.fds[1], null, null, 0) as number) {
          close(fd);
          n++;
        }
        return n;
      });
      expect(o.globals.get('migrations') as bigint).toBeGreaterThanOrEqual(4n);
      expect(accepted).toBe(4);
      expect(o.globals.get('select_failed')).toBe(0n);
    } finally {
      for (const c of clients) close(c);
      if (fds) close(fds[1]);
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
