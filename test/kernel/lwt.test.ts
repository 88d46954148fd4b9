// Lightweight-tunnel programs (lwt_in, lwt_out, lwt_xmit) on the real kernel: each attaches by
// adding a route of the test's own (198.18.x.y/32 on lo, from the pid) with the program as its
// encapsulation, counts exactly the datagrams the test sends to that address, and the route goes
// with the link. iproute2 is the reference: it reads the route back, and the route bee-ts adds is
// the one `ip route add ... encap bpf <hook> obj ... sec ...` adds for the same object.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AttachError } from '../../src/link/kinds.js';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';
import { ProgType } from '../../src/syscall/constants.js';
import { haveProgType } from '../../src/syscall/features.js';

const skip = needKernel('4.10', 'BPF lightweight tunnels', () => haveProgType(ProgType.LWT_IN));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Addresses of this process only (198.18.0.0/15 is the benchmarking range, never routed here).
const dst = `198.18.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const peerDst = `198.19.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const payload = Buffer.alloc(100 + (process.pid % 200), 0x6c);
const ipLen = 20 + 8 + payload.length;

const routes = (d: string) => JSON.parse(execFileSync('ip', ['-j', 'route', 'show', `${d}/32`], { encoding: 'utf8' }) || '[]') as Record<string, unknown>[];

async function send(to: string, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    // The looped-back datagrams are dropped (a non-local destination arriving on lo): only the programs see them.
    for (let i = 0; i < n; i++) await new Promise<void>((r) => s.send(payload, 9, to, () => r()));
  } finally {
    s.close();
  }
}

async function until(cond: () => boolean): Promise<void> {
  for (let deadline = Date.now() + 10_000; !cond() && Date.now() < deadline; ) await sleep(20);
}

describe.skipIf(skip)('lwt programs as route encapsulation', () => {
  it('lwt_xmit, lwt_out and lwt_in each count the datagrams sent to their route, which iproute2 shows and which goes on close', async () => {
    using o = BpfObject.open(fixture('lwt.bpfel.o')).load();
    for (const [prog, hook, counter] of [
      ['count_xmit', 'xmit', 'xmit'],
      ['count_out', 'out', 'out'],
      ['count_in', 'in', 'in'],
    ] as const) {
      const before = { hits: o.globals.get(`${counter}_hits`) as bigint, bytes: o.globals.get(`${counter}_bytes`) as bigint };
      {
        using l = o.program(prog).attach({ lwt: { route: `${dst}/32`, dev: 'lo' } });
        expect([l.kind, l.target]).toEqual(['lwt', `${dst}/32 dev lo ${hook}`]);
        expect(routes(dst)).toEqual([{ dst, encap: 'bpf', [hook]: prog, dev: 'lo', scope: 'link', flags: [] }]);
        await send(dst, 3);
        await until(() => (o.globals.get(`${counter}_hits`) as bigint) >= before.hits + 3n);
        expect(o.globals.get(`${counter}_hits`)).toBe(before.hits + 3n);
        expect(o.globals.get(`${counter}_bytes`)).toBe(before.bytes + BigInt(3 * ipLen));
        // A second program cannot take the same route: the attach says so and leaves the first.
        const other = prog === 'count_xmit' ? 'count_out' : 'count_xmit';
        expect(() => o.program(other).attach({ lwt: { route: `${dst}/32`, dev: 'lo' } })).toThrow(AttachError);
        expect(() => o.program(other).attach({ lwt: { route: `${dst}/32`, dev: 'lo' } })).toThrow(/a route to .* already exists in table 254/);
        expect(routes(dst)).toHaveLength(1);
      }
      expect(routes(dst)).toEqual([]); // detached: the route is gone (nothing is sent to it now: it would leave by the default route)
    }
  });

  it('the route bee-ts adds is the one iproute2 adds for the same object and hook', () => {
    using o = BpfObject.open(fixture('lwt.bpfel.o'), { autoload: ['count_xmit'] }).load();
    // iproute2's object loader makes its pin folders (tc/globals, and ip and xdp linking to tc)
    // in the shared bpffs: removed after when this test made them and they stay empty.
    const ipState = ['/sys/fs/bpf/tc', '/sys/fs/bpf/ip', '/sys/fs/bpf/xdp'].filter((p) => !fs.existsSync(p));
    try {
      execFileSync('ip', ['route', 'add', `${peerDst}/32`, 'encap', 'bpf', 'xmit', 'obj', fixture('lwt.bpfel.o'), 'sec', 'lwt_xmit', 'dev', 'lo'], { stdio: ['ignore', 'ignore', 'pipe'] });
      using _l = o.program('count_xmit').attach({ lwt: { route: `${dst}/32`, dev: 'lo' } });
      const [ours] = routes(dst);
      const [theirs] = routes(peerDst);
      // iproute2 names the program by its object and section; everything else is the same route.
      expect(theirs).toMatchObject({ dst: peerDst, xmit: expect.stringContaining('lwt.bpfel.o') });
      expect({ ...ours, dst: undefined, xmit: undefined }).toEqual({ ...theirs, dst: undefined, xmit: undefined });
    } finally {
      if (routes(peerDst).length) execFileSync('ip', ['route', 'del', `${peerDst}/32`, 'dev', 'lo'], { stdio: 'ignore' });
      for (const p of ipState) {
        const st = fs.lstatSync(p, { throwIfNoEntry: false });
        if (st?.isSymbolicLink()) fs.unlinkSync(p);
        else if (st?.isDirectory()) {
          const globals = `${p}/globals`;
          if (fs.existsSync(globals) && fs.readdirSync(globals).length === 0) fs.rmdirSync(globals);
          if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
        }
      }
    }
    expect(routes(peerDst)).toEqual([]);
  });
});
