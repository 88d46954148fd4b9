// A kernel map with typed access. Keys and values are JS values when the map has BTF (via
// codecs compiled once), or bytes; raw Uint8Array access is always available. Element calls
// reuse one attr and scratch buffers per map (no allocation on the lookup path).
//
// Every element call shares the per-map attr and scratch buffers; whole-map dumps are in
// dump.ts, the codec-less element bytes in bytes.ts.
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { sys } from '../syscall/backend.js';
import { Cmd, ElemAttr, mapBatch, mapCreate, type MapCreateAttr, mapFreeze, objGet, objPin, fdById } from '../syscall/bpf.js';
import { BPF_ANY, mapTypeName } from '../syscall/constants.js';
import { BpfError, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { mapInfo } from '../syscall/info.js';
import { mapTraits } from '../syscall/map-traits.js';
import { copyBytes, encodeInto, fitsNumberFast, writeNumber } from './bytes.js';
import { type Codec, CodecError, compileCodec } from './codec.js';
import { batchDump, type FlatDump, iterDump } from './dump.js';
import type { MapSpec } from './spec.js';


export interface MapTypes {
  btf?: Btf;
  keyTypeId?: number;
  valueTypeId?: number;
}

/** What a live map is: the kernel-facing part of a spec. */
export type MapDescription = Pick<MapSpec, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags'>;

export class BpfMap implements Disposable {
  readonly fd: Fd;
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly btf?: Btf;
  readonly keyTypeId?: number;
  readonly valueTypeId?: number;
  readonly percpu: boolean;
  readonly ncpu: number;
  /** Bytes per lookup result: valueSize, or 8-aligned valueSize × possible CPUs for per-CPU maps. */
  readonly valueBufSize: number;
  #keyCodec?: Codec | null;
  #valueCodec?: Codec | null;
  // Element calls: one attr per kind of call (lookups, updates, deletes), so that a mix of them
  // rewrites no pointer in an attr (a delete's value must be 0; an update's value is often the
  // caller's buffer, a lookup's the scratch value), and the scratch key and value buffers.
  #elem?: ElemAttr;
  #upd?: ElemAttr;
  #del?: ElemAttr;
  #key?: Uint8Array;
  #keyDv?: DataView;
  #value?: Uint8Array;
  /** Made with the attrs: number keys go straight into the scratch key (no key type; 1, 2, 4 or 8 bytes). */
  #numKeys = false;
  /** Made with the attrs: a value is its bytes (no value type, not per-CPU). */
  #plainValues = false;

  /** Wraps an fd with known attributes (the loader's path); callers use create, fromFd, fromId or openPinned. @internal */
  constructor(fd: Fd, d: MapDescription, types: MapTypes = {}) {
    this.fd = fd;
    this.name = d.name;
    this.type = d.type;
    this.keySize = d.keySize;
    this.valueSize = d.valueSize;
    this.maxEntries = d.maxEntries;
    this.flags = d.flags;
    this.btf = types.btf;
    this.keyTypeId = types.keyTypeId || undefined;
    this.valueTypeId = types.valueTypeId || undefined;
    this.percpu = mapTraits(d.type).perCpu;
    this.ncpu = this.percpu ? sys().numPossibleCpus() : 1;
    this.valueBufSize = this.percpu ? Math.ceil(d.valueSize / 8) * 8 * this.ncpu : d.valueSize;
  }

  /**
   * Create a map (see createMap in create.ts for spec-driven creation with BTF and retries).
   * @throws {@link BpfError} when the kernel refuses to create the map.
   */
  static create(a: MapCreateAttr, types: MapTypes = {}): BpfMap {
    const fd = mapCreate(a);
    return new BpfMap(fd, { name: a.name ?? '', type: a.type, keySize: a.keySize, valueSize: a.valueSize, maxEntries: a.maxEntries, flags: a.flags ?? 0 }, types);
  }

  /**
   * Wrap an fd (takes ownership), reading the map's attributes from the kernel.
   * @throws {@link BpfError} when the fd is not a map.
   */
  static fromFd(fd: Fd, types: MapTypes = {}): BpfMap {
    const info = mapInfo(fd.value);
    return new BpfMap(fd, { name: info.name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags }, types);
  }

  /**
   * @throws {@link BpfError} when there is no map with this id (or no permission).
   */
  static fromId(id: number, types: MapTypes = {}): BpfMap {
    return BpfMap.fromFd(fdById('map', id), types);
  }

  /**
   * @throws {@link BpfError} when nothing is pinned there; {@link PinnedTypeError} when the pin is not a map.
   */
  static openPinned(path: string, types: MapTypes = {}): BpfMap {
    return BpfMap.fromFd(objGet(path, 0, `map ${path}`, 'map'), types);
  }

  /** This map (for TypedMap views, whose `raw` is the untyped BpfMap). */
  get raw(): BpfMap {
    return this;
  }

  get id(): number {
    return mapInfo(this.fd.value).id;
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  private get keyCodec(): Codec | null {
    if (this.#keyCodec === undefined) this.#keyCodec = this.btf && this.keyTypeId ? compileCodec(this.btf, this.keyTypeId) : null;
    return this.#keyCodec;
  }
  private get valueCodec(): Codec | null {
    // A ring buffer's or perf event array's value type describes the records it carries
    // (read by RingBufReader/PerfBufReader), not its slots.
    if (this.#valueCodec === undefined) this.#valueCodec = this.btf && this.valueTypeId && !mapTraits(this.type).records ? compileCodec(this.btf, this.valueTypeId) : null;
    return this.#valueCodec;
  }

  /** The reused attr of lookups (and other calls), with the scratch buffers made on first use (no object per call). */
  private elem(): ElemAttr {
    return this.#elem ?? this.#makeElem();
  }
  #makeElem(): ElemAttr {
    this.#key = new Uint8Array(Math.max(this.keySize, 1));
    this.#keyDv = new DataView(this.#key.buffer);
    this.#value = new Uint8Array(Math.max(this.valueBufSize, 1));
    // What keyCodec and valueCodec will be, without compiling them (they compile on first use):
    // a codec exactly when the map has BTF and a type id (a ring buffer's value type aside).
    const k = this.keySize;
    this.#numKeys = !(this.btf && this.keyTypeId) && (k === 1 || k === 2 || k === 4 || k === 8);
    this.#plainValues = !this.percpu && !(this.btf && this.valueTypeId && !mapTraits(this.type).records);
    this.#upd = new ElemAttr(this.fd.value);
    this.#del = new ElemAttr(this.fd.value);
    return (this.#elem = new ElemAttr(this.fd.value));
  }

  /**
   * The bytes to hand the kernel for `key`: a Uint8Array of exactly keySize bytes as it is (no
   * copy), anything else encoded into the scratch key buffer.
   */
  private keyBytes(key: unknown): Uint8Array {
    const kb = this.#key!;
    if (typeof key === 'number' && this.#numKeys && fitsNumberFast(key, this.keySize)) {
      // 4-byte keys in one store (ToUint32 truncates as writeNumber does).
      if (this.keySize === 4) this.#keyDv!.setUint32(0, key, true);
      else writeNumber(key, kb, this.keySize);
      return kb;
    }
    if (key instanceof Uint8Array && key.length === this.keySize && this.keySize > 0) return key;
    this.encodeKey(key, kb);
    return kb;
  }

  private fail(op: string, errno: number): never {
    throw new BpfError(op, errno, `map '${this.name}'`);
  }

  /**
   * Encode a key (bytes, a number for integer keys, or a JS value via BTF) into `out`.
   * @throws {@link CodecError} when the key does not fit the map's key type or size.
   */
  encodeKey(key: unknown, out: Uint8Array): void {
    encodeInto(key, out, this.keySize, this.keyCodec, `map '${this.name}' key`);
  }

  /**
   * Encode a value into `out`; per-CPU maps take an array (one per CPU) or one value for all.
   * @throws {@link CodecError} when the value does not fit the map's value type or size.
   */
  encodeValue(value: unknown, out: Uint8Array): void {
    if (!this.percpu) return encodeInto(value, out, this.valueSize, this.valueCodec, `map '${this.name}' value`);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const per = Array.isArray(value) && !(this.valueCodec && isArrayType(this)) ? value : new Array(this.ncpu).fill(value);
    if (per.length !== this.ncpu) throw new CodecError(`map '${this.name}': per-CPU value needs ${this.ncpu} entries, got ${per.length}`);
    for (let c = 0; c < this.ncpu; c++) encodeInto(per[c], out.subarray(c * stride, c * stride + this.valueSize), this.valueSize, this.valueCodec, `map '${this.name}' value`);
  }

  /**
   * @throws {@link CodecError} when the bytes cannot be decoded by the key type.
   */
  decodeKey(bytes: Uint8Array): unknown {
    const c = this.keyCodec;
    return c ? c.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0) : copyBytes(bytes, 0, this.keySize);
  }

  /**
   * @throws {@link CodecError} when the bytes cannot be decoded by the value type.
   */
  decodeValue(bytes: Uint8Array): unknown {
    const c = this.valueCodec;
    if (!this.percpu) return c ? c.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0) : copyBytes(bytes, 0, this.valueSize);
    return this.#decodeValueAt(bytes, c ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null, 0);
  }

  /**
   * The value at byte `off` of `bytes` (a batch buffer or one lookup's bytes; `dv` is a view of
   * the same bytes when the map has a value codec), per-CPU maps as an array.
   */
  #decodeValueAt(bytes: Uint8Array, dv: DataView | null, off: number): unknown {
    const c = this.valueCodec;
    if (!this.percpu) return c ? c.decode(dv!, off) : copyBytes(bytes, off, this.valueSize);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out = [];
    for (let cpu = 0; cpu < this.ncpu; cpu++) out.push(c ? c.decode(dv!, off + cpu * stride) : copyBytes(bytes, off + cpu * stride, this.valueSize));
    return out;
  }

  /**
   * Lookup into `out` (valueBufSize bytes, the value's raw bytes): libbpf's bpf_map_lookup_elem,
   * with no object made per call. The key as {@link BpfMap.lookup} takes it (exact-size bytes as
   * they are, a number for a 1/2/4/8-byte key without BTF, or a value the key type encodes).
   * False when the key is absent.
   * @throws {@link CodecError} when the key does not fit; {@link BpfError} for a kernel error other than a missing key.
   */
  lookupInto(key: unknown, out: Uint8Array, flags = 0): boolean {
    const elem = this.elem();
    const r = elem.call(Cmd.MAP_LOOKUP_ELEM, this.keyBytes(key), out, flags);
    if (r === 0) return true;
    if (-r === ENOENT) return false;
    return this.fail('BPF_MAP_LOOKUP_ELEM', -r);
  }

  /**
   * @throws {@link BpfError} for a kernel error other than a missing key.
   */
  lookupRaw(key: Uint8Array): Uint8Array | undefined {
    const elem = this.elem();
    const value = this.#value!;
    const r = elem.call(Cmd.MAP_LOOKUP_ELEM, key, value, 0);
    if (r === 0) return copyBytes(value, 0, this.valueBufSize);
    if (-r === ENOENT) return undefined;
    return this.fail('BPF_MAP_LOOKUP_ELEM', -r);
  }

  /**
   * @throws {@link CodecError} when the key does not fit; {@link BpfError} for a kernel error other than a missing key.
   */
  lookup(key: unknown): unknown {
    const elem = this.elem();
    const value = this.#value!;
    const r = elem.call(Cmd.MAP_LOOKUP_ELEM, this.keyBytes(key), value, 0);
    if (r === 0) return this.#plainValues ? copyBytes(value, 0, this.valueSize) : this.decodeValue(value);
    if (-r === ENOENT) return undefined;
    return this.fail('BPF_MAP_LOOKUP_ELEM', -r);
  }

  /**
   * @throws {@link CodecError} when the key or value does not fit; {@link BpfError} when the kernel refuses the update (full map, flags, ...).
   */
  update(key: unknown, value: unknown, flags: number = BPF_ANY): void {
    this.elem();
    const kb = this.keyBytes(key);
    // Exact-size bytes of a plain map go to the kernel as they are (per-CPU maps replicate them).
    const vb = value instanceof Uint8Array && value.length === this.valueSize && !this.percpu && this.valueSize > 0 ? value : this.#encodeScratchValue(value);
    const r = this.#upd!.call(Cmd.MAP_UPDATE_ELEM, kb, vb, flags);
    if (r < 0) this.fail('BPF_MAP_UPDATE_ELEM', -r);
  }

  #encodeScratchValue(value: unknown): Uint8Array {
    const vb = this.#value!;
    vb.fill(0);
    this.encodeValue(value, vb);
    return vb;
  }

  /**
   * @throws {@link BpfError} when the kernel refuses the update.
   */
  updateRaw(key: Uint8Array, value: Uint8Array, flags: number = BPF_ANY): void {
    this.elem();
    const r = this.#upd!.call(Cmd.MAP_UPDATE_ELEM, key, value, flags);
    if (r < 0) this.fail('BPF_MAP_UPDATE_ELEM', -r);
  }

  /**
   * Returns false when the key was absent.
   * @throws {@link CodecError} when the key does not fit; {@link BpfError} for a kernel error other than a missing key.
   */
  delete(key: unknown): boolean {
    this.elem();
    const r = this.#del!.call(Cmd.MAP_DELETE_ELEM, this.keyBytes(key), null, 0);
    if (r === 0) return true;
    if (-r === ENOENT) return false;
    return this.fail('BPF_MAP_DELETE_ELEM', -r);
  }

  /**
   * Pop/peek for queue and stack maps, or lookup-and-delete for hashes.
   * @throws {@link CodecError} when the key does not fit; {@link BpfError} when the map type does not support it.
   */
  lookupAndDelete(key: unknown = null): unknown {
    const elem = this.elem();
    const value = this.#value!;
    let kp: Uint8Array | null = null;
    if (key !== null && this.keySize > 0) kp = this.keyBytes(key);
    const r = elem.call(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, kp, value);
    if (r === 0) return this.decodeValue(value);
    if (-r === ENOENT) return undefined;
    return this.fail('BPF_MAP_LOOKUP_AND_DELETE_ELEM', -r);
  }

  /**
   * Raw keys, in kernel order. A key deleted during the walk restarts nothing: the kernel moves on.
   * @throws {@link BpfError} when the kernel refuses the walk.
   */
  *keysRaw(): IterableIterator<Uint8Array> {
    const elem = this.elem();
    const cur = Buffer.alloc(this.keySize);
    const next = Buffer.alloc(this.keySize);
    let first = true;
    for (let guard = 0; ; guard++) {
      const r = elem.call(Cmd.MAP_GET_NEXT_KEY, first ? null : cur, next);
      if (r < 0) {
        if (-r === ENOENT) return;
        this.fail('BPF_MAP_GET_NEXT_KEY', -r);
      }
      first = false;
      cur.set(next);
      yield copyBytes(next, 0, this.keySize);
      // A map whose keys keep changing under us cannot loop forever.
      if (guard > 4 * (this.maxEntries + 1024)) return;
    }
  }

  /**
   * @throws {@link BpfError}, {@link CodecError} as keysRaw() and decodeKey() do.
   */
  *keys(): IterableIterator<unknown> {
    for (const k of this.keysRaw()) yield this.decodeKey(k);
  }

  /**
   * @throws {@link BpfError} when the kernel refuses the walk or a lookup.
   */
  *entriesRaw(): IterableIterator<[Uint8Array, Uint8Array]> {
    const value = Buffer.alloc(this.valueBufSize);
    for (const k of this.keysRaw()) {
      if (this.lookupInto(k, value)) yield [k, copyBytes(value, 0, this.valueBufSize)];
    }
  }

  /**
   * @throws {@link BpfError}, {@link CodecError} as entriesRaw() and the decoders do.
   */
  *entries(): IterableIterator<[unknown, unknown]> {
    for (const [k, v] of this.entriesRaw()) yield [this.decodeKey(k), this.decodeValue(v)];
  }

  /**
   * Bytes of keys plus values one BPF_MAP_LOOKUP_BATCH call asks for (the chunk is this many
   * entries, at most max_entries, at least one). Tests lower it to cross chunk boundaries.
   */
  static batchBytes = 8 << 20;

  /**
   * Every entry into two flat buffers: entry i's key is keys[i·keySize …], its value
   * values[i·valueBufSize …] (per-CPU: ncpu 8-byte-aligned slots). BPF_MAP_LOOKUP_BATCH in
   * chunks of batchBytes when the kernel and map type support it (5.6+, hash and array maps),
   * else key iteration. Entries that a program adds or deletes during the walk may or may not be
   * in it (as with bpftool); an entry present throughout is there exactly once.
   * @throws {@link BpfError} when the kernel refuses the walk or a lookup.
   */
  dumpFlat(): FlatDump {
    if (this.keySize > 0 && this.valueSize > 0 && mapTraits(this.type).batchable) {
      const d = batchDump(this, BpfMap.batchBytes, (op, errno) => this.fail(op, errno));
      if (d) return d;
    }
    return iterDump(this);
  }

  /**
   * All entries as raw pairs: views into dumpFlat's buffers (no copy per entry).
   * @throws {@link BpfError} when the kernel refuses the walk or a lookup.
   */
  dumpRaw(): [Uint8Array, Uint8Array][] {
    const { count, keys, values } = this.dumpFlat();
    const ks = this.keySize;
    const vs = this.valueBufSize;
    const out: [Uint8Array, Uint8Array][] = new Array(count);
    // (new Uint8Array(buffer, ...) is cheaper than subarray, which looks up a species constructor.)
    for (let i = 0; i < count; i++) out[i] = [new Uint8Array(keys.buffer, keys.byteOffset + i * ks, ks), new Uint8Array(values.buffer, values.byteOffset + i * vs, vs)];
    return out;
  }

  /**
   * All entries decoded, straight from the batch buffers (one DataView per buffer, not per entry).
   * @throws {@link BpfError}, {@link CodecError} as dumpRaw() and the decoders do.
   */
  dump(): [unknown, unknown][] {
    const { count, keys, values } = this.dumpFlat();
    const ks = this.keySize;
    const vs = this.valueBufSize;
    const kc = this.keyCodec;
    const kdv = kc ? new DataView(keys.buffer, keys.byteOffset, keys.byteLength) : null;
    const vdv = this.valueCodec ? new DataView(values.buffer, values.byteOffset, values.byteLength) : null;
    const out: [unknown, unknown][] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = [kc ? kc.decode(kdv!, i * ks) : copyBytes(keys, i * ks, ks), this.#decodeValueAt(values, vdv, i * vs)];
    return out;
  }

  /**
   * Update many entries at once (BPF_MAP_UPDATE_BATCH), falling back to single updates.
   * @throws {@link CodecError} when an entry does not fit; {@link BpfError} when the kernel refuses an update.
   */
  updateBatch(entries: [unknown, unknown][], flags: number = BPF_ANY): void {
    if (entries.length === 0) return;
    const keys = Buffer.alloc(entries.length * this.keySize);
    const values = Buffer.alloc(entries.length * this.valueBufSize);
    entries.forEach(([k, v], i) => {
      this.encodeKey(k, keys.subarray(i * this.keySize, (i + 1) * this.keySize));
      this.encodeValue(v, values.subarray(i * this.valueBufSize, (i + 1) * this.valueBufSize));
    });
    const r = mapBatch(Cmd.MAP_UPDATE_BATCH, this.fd.value, null, null, keys, values, entries.length, flags);
    if (r.err) {
      if (-r.err === EINVAL || -r.err === ENOTSUPP || -r.err === EOPNOTSUPP) {
        for (let i = r.count; i < entries.length; i++)
          this.updateRaw(keys.subarray(i * this.keySize, (i + 1) * this.keySize), values.subarray(i * this.valueBufSize, (i + 1) * this.valueBufSize), flags);
        return;
      }
      this.fail('BPF_MAP_UPDATE_BATCH', -r.err);
    }
  }

  /**
   * Delete many keys at once (BPF_MAP_DELETE_BATCH), falling back to single deletes.
   * @throws {@link CodecError} when a key does not fit; {@link BpfError} when the kernel refuses a delete.
   */
  deleteBatch(keysIn: unknown[]): void {
    if (keysIn.length === 0) return;
    const keys = Buffer.alloc(keysIn.length * this.keySize);
    keysIn.forEach((k, i) => this.encodeKey(k, keys.subarray(i * this.keySize, (i + 1) * this.keySize)));
    const r = mapBatch(Cmd.MAP_DELETE_BATCH, this.fd.value, null, null, keys, null, keysIn.length);
    if (r.err) {
      if (-r.err === EINVAL || -r.err === ENOTSUPP || -r.err === EOPNOTSUPP || -r.err === ENOENT) {
        for (let i = r.count; i < keysIn.length; i++) this.delete(keys.subarray(i * this.keySize, (i + 1) * this.keySize));
        return;
      }
      this.fail('BPF_MAP_DELETE_BATCH', -r.err);
    }
  }

  /**
   * Make the map read-only for user space from now on (BPF programs may still write unless RDONLY_PROG).
   * @throws {@link BpfError} when the kernel refuses (already frozen, mmapped writable, ...).
   */
  freeze(): void {
    mapFreeze(this.fd.value, `map '${this.name}'`);
  }

  /**
   * @throws {@link BpfError} when the kernel refuses the pin.
   */
  pin(path: string): void {
    objPin(this.fd.value, path, `pin map '${this.name}' at ${path}`);
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function isArrayType(m: BpfMap): boolean {
  if (!m.btf || !m.valueTypeId) return false;
  return m.btf.resolve(m.valueTypeId).kind === BtfKind.Array;
}
