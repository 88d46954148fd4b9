// The map-type traits table (src/syscall/map-traits.ts) against this kernel, for every type that
// can be created with plain attributes: whether key_size must be 0, whether values are per CPU
// (how many bytes a lookup writes), and whether the batch commands work.
import { describe, expect, it } from 'vitest';
import '../../src/syscall/native.js';
import { sys } from '../../src/syscall/backend.js';
import { Cmd, ElemAttr, mapBatch, mapCreate } from '../../src/syscall/bpf.js';
import { BPF_F_NO_PREALLOC, MapType, mapTypeName } from '../../src/syscall/constants.js';
import { BpfError, EINVAL } from '../../src/syscall/errno.js';
import { mapTraits } from '../../src/syscall/map-traits.js';
import { needKernel } from '../helpers.js';

const skip = needKernel();
const M = MapType;

/** Types and the attributes they are created with (key_size given separately). */
const TYPES: [number, { valueSize: number; maxEntries: number; flags?: number; extra?: bigint }][] = [
  [M.HASH, { valueSize: 8, maxEntries: 4 }],
  [M.ARRAY, { valueSize: 8, maxEntries: 4 }],
  [M.PROG_ARRAY, { valueSize: 4, maxEntries: 4 }],
  [M.PERF_EVENT_ARRAY, { valueSize: 4, maxEntries: 4 }],
  [M.PERCPU_HASH, { valueSize: 8, maxEntries: 4 }],
  [M.PERCPU_ARRAY, { valueSize: 8, maxEntries: 4 }],
  [M.STACK_TRACE, { valueSize: 8, maxEntries: 4 }],
  [M.LRU_HASH, { valueSize: 8, maxEntries: 4 }],
  [M.LRU_PERCPU_HASH, { valueSize: 8, maxEntries: 4 }],
  [M.QUEUE, { valueSize: 8, maxEntries: 4 }],
  [M.STACK, { valueSize: 8, maxEntries: 4 }],
  [M.BLOOM_FILTER, { valueSize: 8, maxEntries: 4, extra: 3n }],
  [M.RINGBUF, { valueSize: 0, maxEntries: 4096 }],
  [M.HASH, { valueSize: 8, maxEntries: 4, flags: BPF_F_NO_PREALLOC }],
];

function create(type: number, keySize: number, a: (typeof TYPES)[number][1]) {
  return mapCreate({ type, keySize, valueSize: a.valueSize, maxEntries: a.maxEntries, flags: a.flags ?? 0, mapExtra: a.extra ?? 0n }, `traits ${mapTypeName(type)}`);
}

describe.skipIf(skip)('map-type traits agree with the kernel', () => {
  it.each(TYPES.map(([t, a]) => [mapTypeName(t), t, a] as const))('%s', (_name, type, a) => {
    const t = mapTraits(type);
    // zeroKey: the kernel refuses a non-zero key_size exactly for these.
    let withKey: ReturnType<typeof create> | undefined;
    try {
      withKey = create(type, 4, a);
    } catch (e) {
      if (!(e instanceof BpfError) || e.errno !== EINVAL) throw e;
    }
    expect(withKey === undefined, `${mapTypeName(type)}: refuses key_size 4`).toBe(t.zeroKey);
    const fd = withKey ?? create(type, 0, a);
    try {
      if (!t.zeroKey && !t.records && type !== M.PROG_ARRAY && type !== M.STACK_TRACE) {
        // perCpu: a lookup writes ncpu × value_size bytes, else value_size.
        const ncpu = sys().numPossibleCpus();
        const key = new Uint8Array(4);
        const elem = new ElemAttr(fd.value);
        expect(elem.call(Cmd.MAP_UPDATE_ELEM, key, new Uint8Array(8 * ncpu), 0)).toBe(0);
        const out = new Uint8Array(8 * ncpu + 8).fill(0xaa);
        expect(elem.call(Cmd.MAP_LOOKUP_ELEM, key, out)).toBe(0);
        const written = out.findIndex((b) => b === 0xaa);
        expect(written, `${mapTypeName(type)}: bytes a lookup writes`).toBe(t.perCpu ? 8 * ncpu : 8);
      }
      // batchable: LOOKUP_BATCH on the map ends with ENOENT (the walk's end) or fails with ENOTSUPP/EINVAL.
      const keys = new Uint8Array(64);
      const values = new Uint8Array(64 * Math.max(1, sys().numPossibleCpus()) * 8);
      const out = new Uint8Array(8);
      const r = mapBatch(Cmd.MAP_LOOKUP_BATCH, fd.value, null, out, keys, values, 1);
      expect(r.err === 0 || r.err === -2 /* ENOENT */, `${mapTypeName(type)}: LOOKUP_BATCH answers ${r.err}`).toBe(t.batchable);
    } finally {
      fd.close();
    }
  });
});
