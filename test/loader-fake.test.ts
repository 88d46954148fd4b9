// Loading and attaching through the fake backend (no root): the fake records every BPF_PROG_LOAD
// (type, expected attach type, license, the instructions as relocated) and every link or
// attachment (LINK_CREATE, RAW_TRACEPOINT_OPEN, PROG_ATTACH with its attr), so relocation against
// the maps the loader created and the SEC() table's attach dispatch are checked without a kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachError } from '../src/link/kinds.js';
import { BpfObject } from '../src/loader/object.js';
import { useBackend } from '../src/syscall/backend.js';
import { Cmd } from '../src/syscall/bpf.js';
import { AttachType, ProgType } from '../src/syscall/constants.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { Fd } from '../src/syscall/fd.js';
import { readFixture } from './helpers.js';

const BPF_PSEUDO_MAP_FD = 1;
const BPF_PSEUDO_MAP_VALUE = 2;
const fake = new FakeBackend(2);
let restore: () => void;
let fdsBefore: number;
beforeAll(() => {
  restore = useBackend(fake);
  fdsBefore = Fd.open;
});
afterAll(() => {
  restore();
  expect(Fd.open).toBe(fdsBefore);
});

/** Each ld_imm64 of a map or map value in loaded instructions: [map name, value offset]. */
function mapRefs(insns: Uint8Array): [string, number][] {
  const dv = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const out: [string, number][] = [];
  for (let i = 0; i + 16 <= insns.length; i += 8) {
    if (insns[i] !== 0x18) continue;
    const src = insns[i + 1]! >> 4;
    if (src === BPF_PSEUDO_MAP_FD || src === BPF_PSEUDO_MAP_VALUE) {
      const m = fake.fds.get(dv.getInt32(i + 4, true));
      out.push([m ? m.name : `fd ${dv.getInt32(i + 4, true)} is no map`, src === BPF_PSEUDO_MAP_VALUE ? dv.getInt32(i + 12, true) : -1]);
    }
    i += 8; // the second half of the pair
  }
  return out;
}

describe('BpfObject over the fake backend', () => {
  it('one BPF_PROG_LOAD per program: the SEC() table\'s type and expected attach type, the license, data references relocated to the loaded maps', () => {
    using o = BpfObject.fromBytes(readFixture('attach.bpfel.o'), { file: 'attach.o' });
    const from = fake.progLoads.length;
    o.load();
    const loads = fake.progLoads.slice(from).filter((p) => p.name !== ''); // the feature probes load nameless programs
    expect(loads.map((p) => p.name)).toEqual(o.spec.programs.map((p) => p.name));
    const want: Record<string, [number, number | undefined]> = {
      count_tp: [ProgType.TRACEPOINT, undefined],
      count_rawtp: [ProgType.RAW_TRACEPOINT, undefined],
      count_uprobe: [ProgType.KPROBE, undefined],
      count_xdp: [ProgType.XDP, AttachType.XDP],
      count_tc: [ProgType.SCHED_CLS, AttachType.TCX_EGRESS],
      count_cgroup: [ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS],
      count_perf: [ProgType.PERF_EVENT, undefined],
    };
    for (const [name, [type, expected]] of Object.entries(want)) {
      const p = loads.find((l) => l.name === name)!;
      expect([p.type, p.expectedAttachType], name).toEqual([type, expected ?? 0]);
      expect(p.license).toBe('GPL');
      expect(p.fd).toBe(o.program(name).fd.value);
    }
    // The global counters: ld_imm64 of the .bss map's value at each variable's offset (and
    // .rodata's target_tgid where the program reads it), fds of the maps the loader made.
    const vars = new Map(o.spec.dataSections.flatMap((d) => d.variables.map((v) => [v.name, [d.mapName, v.offset] as [string, number]])));
    const at = (v: string) => vars.get(v)!;
    expect(mapRefs(loads.find((l) => l.name === 'count_tp')!.insns)).toEqual([at('target_tgid'), at('tp_hits')]);
    expect(mapRefs(loads.find((l) => l.name === 'count_rawtp')!.insns)).toEqual([at('target_tgid'), at('rawtp_hits')]);
    expect(mapRefs(loads.find((l) => l.name === 'count_xdp')!.insns)).toEqual([at('xdp_hits')]);
    expect(at('rawtp_hits')[1]).toBeGreaterThan(0);
    // The unrelocated instructions held no fd.
    const spec = o.spec.programs.find((p) => p.name === 'count_xdp')!;
    expect(spec.insns).not.toEqual(loads.find((l) => l.name === 'count_xdp')!.insns);
  });

  it('Program.attach dispatches through the section\'s hook: XDP and TCX links on an ifindex, a raw tracepoint by name, refusals before any call', () => {
    using o = BpfObject.fromBytes(readFixture('attach.bpfel.o'), { file: 'attach.o' }).load();
    const from = fake.links.length;
    const xdp = o.program('count_xdp').attach({ iface: 7 });
    const tc = o.program('count_tc').attach({ iface: 7 });
    const tcIn = o.program('count_tc').attach({ iface: 7, tcDirection: 'ingress' });
    const raw = o.program('count_rawtp').attach();
    const made = fake.links.slice(from);
    expect(made.map((l) => [l.cmd, l.progFd, l.targetFd, l.attachType])).toEqual([
      [Cmd.LINK_CREATE, o.program('count_xdp').fd.value, 7, AttachType.XDP],
      [Cmd.LINK_CREATE, o.program('count_tc').fd.value, 7, AttachType.TCX_EGRESS],
      [Cmd.LINK_CREATE, o.program('count_tc').fd.value, 7, AttachType.TCX_INGRESS],
      [Cmd.RAW_TRACEPOINT_OPEN, o.program('count_rawtp').fd.value, -1, 0],
    ]);
    // RAW_TRACEPOINT_OPEN's name pointer: the section's target.
    const rawAttr = new DataView(made[3]!.attr.buffer);
    expect(fake.cstringAt(rawAttr.getBigUint64(0, true))).toBe('sys_enter');
    expect([xdp.kind, tc.kind, raw.kind, raw.target]).toEqual(['xdp', 'tcx', 'raw_tracepoint', 'sys_enter']);
    for (const l of [xdp, tc, tcIn, raw]) {
      expect(fake.bpfObjectKind(l.fd!.value)).toBe('link');
      l.close();
    }
    expect(made.every((l) => fake.bpfObjectKind(l.fd!) === undefined)).toBe(true);
    // What the caller must supply is refused before anything reaches the kernel.
    const calls = fake.calls.length;
    expect(() => o.program('count_tc').attach()).toThrow(AttachError);
    expect(() => o.program('count_tc').attach()).toThrow(/needs an interface/);
    expect(fake.calls.length).toBe(calls);
  });
});
