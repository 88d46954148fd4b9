// Programs in DEVMAP and CPUMAP entries (SEC("xdp/devmap"), "xdp/cpumap", and their xdp.frags
// variants) run for the frames an XDP program redirects into the map: the redirecting program
// runs through BPF_PROG_TEST_RUN with live frames (BPF_F_TEST_XDP_LIVE_FRAMES, 5.18+), so each
// frame really goes through the redirect, towards a tap device the test makes (devmap; tap takes
// XDP frames, ndo_xdp_xmit, without a program of its own) or into CPU 0's queue (cpumap).
import '../../src/syscall/native.js';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';

const skip = needKernel('5.18', 'XDP live-frame test runs');
const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tap = `bxm${process.pid % 100000}`;
/** A 64-byte Ethernet frame (broadcast, IPv4 ethertype, zero payload). */
const frame = () => {
  const f = new Uint8Array(64);
  f.fill(0xff, 0, 6);
  f.set([0x08, 0x00], 12);
  return f;
};
const entry = (first: number, progFd: number) => {
  const v = Buffer.alloc(8);
  v.writeUInt32LE(first, 0);
  v.writeInt32LE(progFd, 4);
  return v;
};

describe.skipIf(skip)('programs in DEVMAP and CPUMAP entries', () => {
  beforeAll(() => {
    execSync(`ip tuntap add dev ${tap} mode tap && ip link set ${tap} up`, { stdio: 'pipe' });
  });
  afterAll(() => {
    execSync(`ip link del ${tap}`, { stdio: 'pipe' });
  });

  for (const [redirect, map, target, counter, first] of [
    ['to_devs', 'devs', 'on_devmap', 'devmap_hits', 'ifindex'],
    ['to_devs_frags', 'devs_frags', 'on_devmap_frags', 'devmap_frags_hits', 'ifindex'],
    ['to_cpus', 'cpus', 'on_cpumap', 'cpumap_hits', 'qsize'],
    ['to_cpus_frags', 'cpus_frags', 'on_cpumap_frags', 'cpumap_frags_hits', 'qsize'],
  ] as const)
    it(`${target}: runs for every frame ${redirect} redirects into ${map}`, async () => {
      using o = BpfObject.open(fixture('xdp_maps.bpfel.o'), { autoload: [redirect, target] }).load();
      const ifindex = Number(fs.readFileSync(`/sys/class/net/${tap}/ifindex`, 'utf8'));
      o.map(map).updateRaw(new Uint8Array(4), entry(first === 'ifindex' ? ifindex : 64, o.program(target).fd.value));
      const r = o.program(redirect).testRun({ dataIn: frame(), repeat: 8, flags: BPF_F_TEST_XDP_LIVE_FRAMES });
      expect(r.retval).toBe(0); // live frames report no verdict
      for (let deadline = Date.now() + 10_000; (o.globals.get(counter) as bigint) < 8n && Date.now() < deadline; ) await sleep(20);
      expect(o.globals.get(counter)).toBe(8n);
    });
});
