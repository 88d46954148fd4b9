// A kernel map with typed access. Keys and values are JS values when the map has BTF (via
// codecs compiled once), or bytes; raw Uint8Array access is always available. Element calls
// reuse one attr and scratch buffers per map (no allocation on the lookup path).
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { sys } from '../syscall/backend.js';
import { Cmd, ElemAttr, mapBatch, mapCreate, type MapCreateAttr, mapFreeze, objGet, objPin, fdById } from '../syscall/bpf.js';
import { BPF_ANY, mapTypeName } from '../syscall/constants.js';
import { BpfError, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { mapInfo } from '../syscall/info.js';
import { mapTraits } from '../syscall/map-traits.js';
import { type Codec, CodecError, compileCodec } from './codec.js';
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
  #elem?: ElemAttr;
  #key?: Buffer;
  #next?: Buffer;
  #value?: Buffer;

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

  /** Create a map (see createMap in create.ts for spec-driven creation with BTF and retries). */
  static create(a: MapCreateAttr, types: MapTypes = {}): BpfMap {
    const fd = mapCreate(a);
    return new BpfMap(fd, { name: a.name ?? '', type: a.type, keySize: a.keySize, valueSize: a.valueSize, maxEntries: a.maxEntries, flags: a.flags ?? 0 }, types);
  }

  /** Wrap an fd (takes ownership), reading the map's attributes from the kernel. */
  static fromFd(fd: Fd, types: MapTypes = {}): BpfMap {
    const info = mapInfo(fd.value);
    return new BpfMap(fd, { name: info.name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags }, types);
  }

  static fromId(id: number, types: MapTypes = {}): BpfMap {
    return BpfMap.fromFd(fdById('map', id), types);
  }

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
    const carriesRecords = mapTraits(this.type).records;
    if (this.#valueCodec === undefined) this.#valueCodec = this.btf && this.valueTypeId && !carriesRecords ? compileCodec(this.btf, this.valueTypeId) : null;
    return this.#valueCodec;
  }

  private scratch(): { elem: ElemAttr; key: Buffer; next: Buffer; value: Buffer } {
    if (!this.#elem) {
      this.#elem = new ElemAttr(this.fd.value);
      this.#key = Buffer.alloc(Math.max(this.keySize, 1));
      this.#next = Buffer.alloc(Math.max(this.keySize, 1));
      this.#value = Buffer.alloc(Math.max(this.valueBufSize, 1));
    }
    return { elem: this.#elem, key: this.#key!, next: this.#next!, value: this.#value! };
  }

  private fail(op: string, errno: number): never {
    throw new BpfError(op, errno, `map '${this.name}'`);
  }

  /** Encode a key (bytes, a number for integer keys, or a JS value via BTF) into `out`. */
  encodeKey(key: unknown, out: Uint8Array): void {
    encodeInto(key, out, this.keySize, this.keyCodec, `map '${this.name}' key`);
  }

  /** Encode a value into `out`; per-CPU maps take an array (one per CPU) or one value for all. */
  encodeValue(value: unknown, out: Uint8Array): void {
    if (!this.percpu) return encodeInto(value, out, this.valueSize, this.valueCodec, `map '${this.name}' value`);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const per = Array.isArray(value) && !(this.valueCodec && isArrayType(this)) ? value : new Array(this.ncpu).fill(value);
    if (per.length !== this.ncpu) throw new CodecError(`map '${this.name}': per-CPU value needs ${this.ncpu} entries, got ${per.length}`);
    for (let c = 0; c < this.ncpu; c++) encodeInto(per[c], out.subarray(c * stride, c * stride + this.valueSize), this.valueSize, this.valueCodec, `map '${this.name}' value`);
  }

  decodeKey(bytes: Uint8Array): unknown {
    const c = this.keyCodec;
    return c ? c.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0) : Uint8Array.from(bytes.subarray(0, this.keySize));
  }

  decodeValue(bytes: Uint8Array): unknown {
    const c = this.valueCodec;
    const one = (b: Uint8Array) => (c ? c.decode(new DataView(b.buffer, b.byteOffset, b.byteLength), 0) : Uint8Array.from(b.subarray(0, this.valueSize)));
    if (!this.percpu) return one(bytes);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out = [];
    for (let cpu = 0; cpu < this.ncpu; cpu++) out.push(one(bytes.subarray(cpu * stride, cpu * stride + this.valueSize)));
    return out;
  }

  /** Raw lookup into `out` (valueBufSize bytes); false when the key is absent. */
  lookupInto(key: Uint8Array, out: Uint8Array, flags = 0): boolean {
    const { elem } = this.scratch();
    const r = elem.call(Cmd.MAP_LOOKUP_ELEM, key, out, flags);
    if (r === 0) return true;
    if (-r === ENOENT) return false;
    return this.fail('BPF_MAP_LOOKUP_ELEM', -r);
  }

  lookupRaw(key: Uint8Array): Uint8Array | undefined {
    const { value } = this.scratch();
    return this.lookupInto(key, value) ? Uint8Array.from(value.subarray(0, this.valueBufSize)) : undefined;
  }

  lookup(key: unknown): unknown {
    const { key: kb, value } = this.scratch();
    this.encodeKey(key, kb);
    return this.lookupInto(kb, value) ? this.decodeValue(value) : undefined;
  }

  update(key: unknown, value: unknown, flags: number = BPF_ANY): void {
    const { elem, key: kb, value: vb } = this.scratch();
    this.encodeKey(key, kb);
    vb.fill(0);
    this.encodeValue(value, vb);
    const r = elem.call(Cmd.MAP_UPDATE_ELEM, kb, vb, flags);
    if (r < 0) this.fail('BPF_MAP_UPDATE_ELEM', -r);
  }

  updateRaw(key: Uint8Array, value: Uint8Array, flags: number = BPF_ANY): void {
    const { elem } = this.scratch();
    const r = elem.call(Cmd.MAP_UPDATE_ELEM, key, value, flags);
    if (r < 0) this.fail('BPF_MAP_UPDATE_ELEM', -r);
  }

  /** Returns false when the key was absent. */
  delete(key: unknown): boolean {
    const { elem, key: kb } = this.scratch();
    this.encodeKey(key, kb);
    const r = elem.call(Cmd.MAP_DELETE_ELEM, kb, null);
    if (r === 0) return true;
    if (-r === ENOENT) return false;
    return this.fail('BPF_MAP_DELETE_ELEM', -r);
  }

  /** Pop/peek for queue and stack maps, or lookup-and-delete for hashes. */
  lookupAndDelete(key: unknown = null): unknown {
    const { elem, key: kb, value } = this.scratch();
    let kp: Uint8Array | null = null;
    if (key !== null && this.keySize > 0) {
      this.encodeKey(key, kb);
      kp = kb;
    }
    const r = elem.call(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, kp, value);
    if (r === 0) return this.decodeValue(value);
    if (-r === ENOENT) return undefined;
    return this.fail('BPF_MAP_LOOKUP_AND_DELETE_ELEM', -r);
  }

  /** Raw keys, in kernel order. A key deleted during the walk restarts nothing: the kernel moves on. */
  *keysRaw(): IterableIterator<Uint8Array> {
    const { elem } = this.scratch();
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
      yield Uint8Array.from(next);
      // A map whose keys keep changing under us cannot loop forever.
      if (guard > 4 * (this.maxEntries + 1024)) return;
    }
  }

  *keys(): IterableIterator<unknown> {
    for (const k of this.keysRaw()) yield this.decodeKey(k);
  }

  *entriesRaw(): IterableIterator<[Uint8Array, Uint8Array]> {
    const value = Buffer.alloc(this.valueBufSize);
    for (const k of this.keysRaw()) {
      if (this.lookupInto(k, value)) yield [k, Uint8Array.from(value)];
    }
  }

  *entries(): IterableIterator<[unknown, unknown]> {
    for (const [k, v] of this.entriesRaw()) yield [this.decodeKey(k), this.decodeValue(v)];
  }

  /**
   * All entries with BPF_MAP_LOOKUP_BATCH when the kernel and map type support it (5.6+, hash and
   * array maps), else by key iteration. Returns raw pairs.
   */
  dumpRaw(): [Uint8Array, Uint8Array][] {
    const out: [Uint8Array, Uint8Array][] = [];
    if (this.keySize > 0 && this.valueSize > 0 && mapTraits(this.type).batchable) {
      const chunk = Math.max(1, Math.min(this.maxEntries || 1, 4096));
      let keys = new Uint8Array(chunk * this.keySize);
      let values = new Uint8Array(chunk * this.valueBufSize);
      const token = Buffer.alloc(Math.max(this.keySize, 8));
      let first = true;
      for (;;) {
        const r = mapBatch(Cmd.MAP_LOOKUP_BATCH, this.fd.value, first ? null : token, token, keys, values, chunk);
        if (r.err && -r.err !== ENOENT) {
          if (first && (-r.err === EINVAL || -r.err === ENOTSUPP || -r.err === EOPNOTSUPP)) return [...this.entriesRaw()];
          this.fail('BPF_MAP_LOOKUP_BATCH', -r.err);
        }
        // Views into this chunk's buffers (no per-entry copy); the next chunk gets fresh buffers.
        const ks = this.keySize;
        const vs = this.valueBufSize;
        // (new Uint8Array(buffer, ...) is cheaper than subarray, which looks up a species constructor.)
        for (let i = 0; i < r.count; i++) out.push([new Uint8Array(keys.buffer, i * ks, ks), new Uint8Array(values.buffer, i * vs, vs)]);
        if (r.err) return out; // ENOENT: the walk is complete
        if (r.count) {
          keys = new Uint8Array(chunk * this.keySize);
          values = new Uint8Array(chunk * this.valueBufSize);
        }
        first = false;
      }
    }
    return [...this.entriesRaw()];
  }

  dump(): [unknown, unknown][] {
    return this.dumpRaw().map(([k, v]) => [this.decodeKey(k), this.decodeValue(v)]);
  }

  /** Update many entries at once (BPF_MAP_UPDATE_BATCH), falling back to single updates. */
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

  /** Delete many keys at once (BPF_MAP_DELETE_BATCH), falling back to single deletes. */
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

  /** Make the map read-only for user space from now on (BPF programs may still write unless RDONLY_PROG). */
  freeze(): void {
    mapFreeze(this.fd.value, `map '${this.name}'`);
  }

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

/** Bytes, a number/bigint for integer-sized keys, or a value through the codec. */
export function encodeInto(v: unknown, out: Uint8Array, size: number, codec: Codec | null, what: string): void {
  if (v instanceof Uint8Array) {
    if (v.length !== size) throw new CodecError(`${what}: expected ${size} bytes, got ${v.length}`);
    out.set(v);
    return;
  }
  if (!codec && typeof v === 'number' && Number.isInteger(v) && (size === 1 || size === 2 || size === 4 || (size === 8 && v >= 0 && v <= Number.MAX_SAFE_INTEGER))) {
    // Number keys without BigInt or a DataView: little-endian bytes, the same truncation
    // BigInt.asUintN gives for safe integers.
    const lo = size === 8 ? v % 0x100000000 : v;
    out[0] = lo & 0xff;
    if (size > 1) out[1] = (lo >>> 8) & 0xff;
    if (size > 2) {
      out[2] = (lo >>> 16) & 0xff;
      out[3] = (lo >>> 24) & 0xff;
    }
    if (size === 8) {
      const hi = Math.floor(v / 0x100000000);
      out[4] = hi & 0xff;
      out[5] = (hi >>> 8) & 0xff;
      out[6] = (hi >>> 16) & 0xff;
      out[7] = (hi >>> 24) & 0xff;
    }
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, size);
  if (codec) {
    codec.encode(v, dv, 0);
    return;
  }
  if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') {
    const x = BigInt(v);
    if (size === 1) dv.setUint8(0, Number(BigInt.asUintN(8, x)));
    else if (size === 2) dv.setUint16(0, Number(BigInt.asUintN(16, x)), true);
    else if (size === 4) dv.setUint32(0, Number(BigInt.asUintN(32, x)), true);
    else if (size === 8) dv.setBigUint64(0, BigInt.asUintN(64, x), true);
    else throw new CodecError(`${what}: a number cannot fill ${size} bytes; pass a Uint8Array`);
    return;
  }
  throw new CodecError(`${what}: the map has no BTF type for it; pass a Uint8Array of ${size} bytes`);
}
