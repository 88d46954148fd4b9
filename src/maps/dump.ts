// A whole map read into two flat buffers (BpfMap.dumpFlat): BPF_MAP_LOOKUP_BATCH in chunks where
// the kernel and the map type take it (5.6+, hash and array maps), else GET_NEXT_KEY and one
// lookup per key. One copy of the bytes at the end when the walk took several chunks, none per
// entry.
import { Cmd, mapBatch } from '../syscall/bpf.js';
import { EAGAIN, EINVAL, ENOENT, ENOSPC, ENOTSUPP, EOPNOTSUPP } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';

/** A whole map's entries in two flat buffers (see BpfMap.dumpFlat). */
export interface FlatDump {
  count: number;
  keys: Uint8Array;
  values: Uint8Array;
}

/** One FlatDump of several, in order (one copy of the bytes, none per entry). */
function joinDumps(parts: FlatDump[], total: number, ks: number, vs: number): FlatDump {
  const keys = new Uint8Array(total * ks);
  const values = new Uint8Array(total * vs);
  let n = 0;
  for (const p of parts) {
    keys.set(p.keys.subarray(0, p.count * ks), n * ks);
    values.set(p.values.subarray(0, p.count * vs), n * vs);
    n += p.count;
  }
  return { count: n, keys, values };
}

/** What a dump reads of its map (a BpfMap). */
export interface DumpSource {
  readonly fd: Fd;
  readonly keySize: number;
  /** Bytes per lookup result (per-CPU maps: every CPU's 8-aligned slot). */
  readonly valueBufSize: number;
  readonly maxEntries: number;
  keysRaw(): IterableIterator<Uint8Array>;
  lookupInto(key: Uint8Array, out: Uint8Array): boolean;
}

/** dumpFlat through BPF_MAP_LOOKUP_BATCH; null when the kernel refuses the command for this map. */
export function batchDump(m: DumpSource, batchBytes: number, fail: (op: string, errno: number) => never): FlatDump | null {
  const ks = m.keySize;
  const vs = m.valueBufSize;
  const cap = Math.max(1, m.maxEntries || 1);
  let chunk = Math.max(1, Math.min(cap, Math.floor(batchBytes / (ks + vs))));
  let keys = new Uint8Array(chunk * ks);
  let values = new Uint8Array(chunk * vs);
  let filled = 0;
  const parts: FlatDump[] = [];
  let total = 0;
  // Hash maps keep a bucket index here, arrays the last key: room for either.
  const token = new Uint8Array(Math.max(ks, 8));
  let first = true;
  for (;;) {
    const room = chunk - filled;
    const k = filled ? new Uint8Array(keys.buffer, filled * ks, room * ks) : keys;
    const v = filled ? new Uint8Array(values.buffer, filled * vs, room * vs) : values;
    const r = mapBatch(Cmd.MAP_LOOKUP_BATCH, m.fd.value, first ? null : token, token, k, v, room);
    const e = -r.err;
    if (e === ENOSPC) {
      // The next hash bucket holds more entries than there is room for: flush what this chunk
      // holds, or (an empty chunk) double it. The token still names that bucket.
      if (filled === 0 && chunk >= 2 * cap) fail('BPF_MAP_LOOKUP_BATCH', e);
      if (filled > 0) parts.push({ count: filled, keys: keys.subarray(0, filled * ks), values: values.subarray(0, filled * vs) });
      else chunk *= 2;
      keys = new Uint8Array(chunk * ks);
      values = new Uint8Array(chunk * vs);
      filled = 0;
      continue;
    }
    if (r.err && e !== ENOENT) {
      if (first && total === 0 && (e === EINVAL || e === ENOTSUPP || e === EOPNOTSUPP)) return null;
      fail('BPF_MAP_LOOKUP_BATCH', e);
    }
    const got = Math.min(r.count, room);
    filled += got;
    total += got;
    first = false;
    if (r.err) break; // ENOENT: the walk is complete
    // A map refilled faster than we read it cannot grow the dump without bound.
    if (total > 4 * (cap + 1024)) fail('BPF_MAP_LOOKUP_BATCH', EAGAIN);
    if (filled === chunk) {
      parts.push({ count: filled, keys, values });
      keys = new Uint8Array(chunk * ks);
      values = new Uint8Array(chunk * vs);
      filled = 0;
    } else if (got === 0) fail('BPF_MAP_LOOKUP_BATCH', EAGAIN); // no progress and no end: never spin
  }
  const last: FlatDump = { count: filled, keys: keys.subarray(0, filled * ks), values: values.subarray(0, filled * vs) };
  if (parts.length === 0) return last;
  parts.push(last);
  return joinDumps(parts, total, ks, vs);
}

/** dumpFlat by GET_NEXT_KEY and one lookup per key (keys deleted in between are skipped). */
export function iterDump(m: DumpSource): FlatDump {
  const ks = m.keySize;
  const vs = m.valueBufSize;
  const value = new Uint8Array(Math.max(vs, 1));
  const parts: FlatDump[] = [];
  let room = 64;
  let cur: FlatDump = { count: 0, keys: new Uint8Array(room * ks), values: new Uint8Array(room * vs) };
  let total = 0;
  for (const k of m.keysRaw()) {
    if (!m.lookupInto(k, value)) continue;
    if (cur.count === room) {
      parts.push(cur);
      room *= 2;
      cur = { count: 0, keys: new Uint8Array(room * ks), values: new Uint8Array(room * vs) };
    }
    cur.keys.set(k, cur.count * ks);
    cur.values.set(value.subarray(0, vs), cur.count * vs);
    cur.count++;
    total++;
  }
  parts.push({ count: cur.count, keys: cur.keys.subarray(0, cur.count * ks), values: cur.values.subarray(0, cur.count * vs) });
  return parts.length === 1 ? parts[0]! : joinDumps(parts, total, ks, vs);
}
