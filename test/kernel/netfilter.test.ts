// Netfilter hook programs (SEC("netfilter"), 6.4+) through a netfilter BPF link: a program on
// IPv4 local output counts the test's datagrams (picked out by their length) with the hook and
// family it ran on; one on local input that drops them keeps them from the receiver.
import '../../src/syscall/native.js';
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { linkInfo } from '../../src/syscall/info.js';
import { fixture, needKernel } from '../helpers.js';
import { ProgType } from '../../src/syscall/constants.js';
import { haveProgType } from '../../src/syscall/features.js';

const skip = needKernel('6.4', 'netfilter links', () => haveProgType(ProgType.NETFILTER));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// A length no other traffic is likely to have at the same moment: 20 (IP) + 8 (UDP) + payload.
const payload = Buffer.alloc(1000 + (process.pid % 397), 0x62);
const ipLen = 28 + payload.length;

async function receiver(): Promise<{ sock: dgram.Socket; port: number; got: number[] }> {
  const sock = dgram.createSocket('udp4');
  const got: number[] = [];
  sock.on('message', (m) => got.push(m.length));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, got };
}

async function send(port: number, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (let i = 0; i < n; i++) await new Promise<void>((r) => s.send(payload, port, '127.0.0.1', () => r()));
  s.close();
}

describe.skipIf(skip)('netfilter links', () => {
  it('a program on ipv4 output sees every datagram the test sends, on that hook and family', async () => {
    const rx = await receiver();
    try {
      using o = BpfObject.open(fixture('netfilter.bpfel.o'));
      o.setConstant('match_len', ipLen);
      o.load();
      {
        using l = o.program('count_nf').attach({ netfilter: { pf: 'ipv4', hook: 'output', priority: 100 } });
        expect(l.kind).toBe('netfilter');
        expect(linkInfo(l.fd!.value).type).toBe(10 /* BPF_LINK_TYPE_NETFILTER */);
        await send(rx.port, 5);
        for (let deadline = Date.now() + 10_000; rx.got.length < 5 && Date.now() < deadline; ) await sleep(20);
        expect(rx.got).toEqual([payload.length, payload.length, payload.length, payload.length, payload.length]);
        expect(o.globals.get('nf_hits') as bigint).toBeGreaterThanOrEqual(5n);
        expect([o.globals.get('nf_hook'), o.globals.get('nf_pf')]).toEqual([3 /* NF_INET_LOCAL_OUT */, 2 /* NFPROTO_IPV4 */]);
      }
      const before = o.globals.get('nf_hits') as bigint;
      await send(rx.port, 2);
      for (let deadline = Date.now() + 10_000; rx.got.length < 7 && Date.now() < deadline; ) await sleep(20);
      expect(rx.got.length).toBe(7);
      expect(o.globals.get('nf_hits')).toBe(before); // detached
    } finally {
      rx.sock.close();
    }
  });

  it('NF_DROP on ipv4 input keeps the datagrams from the receiver; detached, they arrive', async () => {
    const rx = await receiver();
    try {
      using o = BpfObject.open(fixture('netfilter.bpfel.o'));
      o.setConstant('match_len', ipLen).setConstant('drop', 1);
      o.load();
      {
        using _l = o.program('count_nf').attach({ netfilter: { pf: 'ipv4', hook: 'input' } });
        await send(rx.port, 3);
        for (let deadline = Date.now() + 10_000; (o.globals.get('nf_hits') as bigint) < 3n && Date.now() < deadline; ) await sleep(20);
        expect(o.globals.get('nf_hits') as bigint).toBeGreaterThanOrEqual(3n);
        expect(o.globals.get('nf_hook')).toBe(1 /* NF_INET_LOCAL_IN */);
        await sleep(100);
        expect(rx.got).toEqual([]);
      }
      await send(rx.port, 1);
      for (let deadline = Date.now() + 10_000; rx.got.length < 1 && Date.now() < deadline; ) await sleep(20);
      expect(rx.got).toEqual([payload.length]);
    } finally {
      rx.sock.close();
    }
  });

  it('without a hook, or with a bad one, the attach says what to pass', () => {
    using o = BpfObject.open(fixture('netfilter.bpfel.o')).load();
    expect(() => o.program('count_nf').attach()).toThrow(/needs a hook: pass \{ netfilter: \{ pf: 'ipv4', hook: 'input'/);
    expect(() => o.program('count_nf').attach({ netfilter: { pf: 'ipv4', hook: 'sideways' as 'input' } })).toThrow(/hook is prerouting\|input\|forward\|output\|postrouting/);
    expect(() => o.program('count_nf').attach({ netfilter: { pf: 'ipv4', hook: 'input', priority: -0x80000000 } })).toThrow(/above INT_MIN/);
  });
});
