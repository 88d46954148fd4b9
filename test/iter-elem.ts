// Shared by test/kernel/iter.test.ts (host) and test/vm/attach-kinds.test.ts: an iter/bpf_map_elem
// walk over a hash map filled here, as the sorted "key value" lines the program printed.
import type { IterLink } from '../src/link/iter.js';
import { BpfObject } from '../src/loader/object.js';
import { fixture } from './helpers.js';

export const MAP_ELEMS: readonly [number, bigint][] = [
  [1, 10n],
  [2, 20n],
  [7, 70000000000n],
];

export function walkMapElems(): string[] {
  using o = BpfObject.open(fixture('iter_elem.bpfel.o')).load();
  const m = o.map('elems');
  for (const [k, v] of MAP_ELEMS) m.update(k, v);
  using l = o.program('dump_elem').attach({ iter: { map: m } }) as IterLink;
  return l.read().split('\n').filter(Boolean).sort();
}

export const expectedElemLines = () => MAP_ELEMS.map(([k, v]) => `${k} ${v}`).sort();
