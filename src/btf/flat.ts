// One BTF (split BTF with its bases) as flat arrays indexed by type id, for the dumpers that visit
// every type: the records' words, each id's word offset and kind, and the whole string space as
// bytes (a name offset indexes it directly). Built from the container's validated records without
// decoding a type object; for plain (non-split) BTF the words and strings are the parsed ones.
import { type Btf, parseBtf } from './btf.js';
import { encodeBtf } from './encode.js';

export interface FlatBtf {
  /** Number of type ids, void included. */
  count: number;
  /** First id of the BTF itself (1, or the base's count for split BTF). */
  firstId: number;
  words: Uint32Array;
  /** Word offset of each id's record (-1 for void, id 0). */
  offs: Int32Array;
  /** Kind of each id (0 for void). */
  kinds: Uint8Array;
  /** The string space (the bases' strings first), so `strings[nameOff]` starts the name. */
  strings: Uint8Array;
}

const flatOf = new WeakMap<Btf, FlatBtf>();

/** The flat form of a BTF (memoized: a BTF does not change once parsed). */
export function flatBtf(btf: Btf): FlatBtf {
  let f = flatOf.get(btf);
  if (!f) flatOf.set(btf, (f = flatten(btf)));
  return f;
}

function flatten(btf: Btf): FlatBtf {
  const rec = btf.records();
  if (!rec) {
    // The eager form (built from type objects): encode it once, ids unchanged.
    const again = parseBtf(encodeBtf(btf.types), { file: btf.file });
    return { ...flatBtf(again), firstId: btf.firstId };
  }
  const own = rec.kinds.length;
  if (!btf.base) {
    const offs = new Int32Array(own + 1);
    offs[0] = -1;
    offs.set(rec.offs, 1);
    const kinds = new Uint8Array(own + 1);
    kinds.set(rec.kinds, 1);
    return { count: own + 1, firstId: 1, words: rec.words, offs, kinds, strings: btf.stringSection };
  }
  const base = flatBtf(btf.base);
  const n = base.count + own;
  const words = new Uint32Array(base.words.length + rec.words.length);
  words.set(base.words);
  words.set(rec.words, base.words.length);
  const offs = new Int32Array(n);
  offs.set(base.offs);
  for (let i = 0; i < own; i++) offs[base.count + i] = rec.offs[i]! + base.words.length;
  const kinds = new Uint8Array(n);
  kinds.set(base.kinds);
  kinds.set(rec.kinds, base.count);
  const ownStr = btf.stringSection;
  const strings = new Uint8Array(base.strings.length + ownStr.length);
  strings.set(base.strings);
  strings.set(ownStr, base.strings.length);
  return { count: n, firstId: btf.firstId, words, offs, kinds, strings };
}
