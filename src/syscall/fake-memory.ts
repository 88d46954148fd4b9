// The fake backend's mapped memory (src/syscall/fake.ts): what mmap(2) of a ring buffer map or a
// perf event gives, with the kernel's layout, and a producer that writes records into it as the
// kernel's helpers do, so the readers in src/ringbuf walk it without a kernel.
//
// No new seam primitive is needed for the ring buffer's double mapping: the kernel does it inside
// one mmap() (ringbuf_map_mmap_kern maps a vmap area whose data pages appear twice in a row), and
// the readers take the mapping's bytes through view(). JS cannot alias one ArrayBuffer's bytes at
// two offsets, so the fake keeps the data area at both offsets and its producer writes every byte
// through both aliases: byte x and byte x + size are always equal, as when they are one page.
//
// Each mmap-able region of an object is one ArrayBuffer (its "pages"), shared by every mapping of
// it. Replacing a mapping with anonymous memory (MAP_FIXED | MAP_ANONYMOUS at its address, what
// Mapping.close() does) moves the region to a fresh copy and zeroes the old buffer, so views the
// caller kept read zeros (when no other live mapping shares the pages).
import { MAP_ANONYMOUS, MAP_FIXED, PROT_WRITE } from './backend.js';
import { EINVAL, ENODEV, EPERM } from './errno.js';

const PAGE = 4096;
/** bpf_ringbuf_hdr.len bits (include/uapi/linux/bpf.h). */
export const BPF_RINGBUF_BUSY_BIT = 0x80000000;
export const BPF_RINGBUF_DISCARD_BIT = 0x40000000;
export const BPF_RINGBUF_HDR_SZ = 8;
/** Page offset of consumer_pos inside struct bpf_ringbuf (kernel/bpf/ringbuf.c RINGBUF_PGOFF), for hdr.pg_off. */
const RINGBUF_PGOFF = 1;
const RINGBUF_POS_PAGES = 2;
export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;
const PERF_SAMPLE_TIME = 1n << 2n;
const PERF_SAMPLE_RAW = 1n << 10n;

/** One mmap-able range of a kernel object, as the pages the kernel would map. */
export interface Region {
  buf: ArrayBuffer;
}

/** Something an fd refers to that mmap() can map: which region lives at a page offset, with which rights. */
export interface Mappable {
  /** The region mapped at `offset` for `length` bytes, or a negative errno. */
  region(offset: number, length: number, prot: number): Region | number;
}

/** One mmap() call, as the fake saw it (fd -1 for anonymous memory). */
export interface MmapCall {
  addr: bigint;
  length: number;
  prot: number;
  flags: number;
  fd: number;
  offset: number;
}

interface Live {
  length: number;
  buf: ArrayBuffer;
  region?: Region;
}

/** The mappings the fake made: address → its bytes. */
export class FakeAddressSpace {
  /** Every mmap() call, in order. */
  readonly calls: MmapCall[] = [];
  private readonly live = new Map<bigint, Live>();
  private next = 0x7f0000000000n;

  /** Mappings not yet munmap'd (kernel pages or the zero pages that replaced them). */
  get size(): number {
    return this.live.size;
  }

  mmap(length: number, prot: number, flags: number, target: Mappable | undefined, fd: number, offset: number, addr?: bigint): bigint {
    if (flags & MAP_FIXED) {
      const at = addr === undefined ? undefined : this.live.get(addr);
      if (!at || at.length !== length || !(flags & MAP_ANONYMOUS)) return -BigInt(EINVAL); // the fake maps whole ranges only
      this.calls.push({ addr: addr!, length, prot, flags, fd, offset });
      this.replace(at);
      return addr!;
    }
    let buf: ArrayBuffer;
    let region: Region | undefined;
    if (flags & MAP_ANONYMOUS) buf = new ArrayBuffer(length);
    else {
      if (!target) return -BigInt(ENODEV);
      const r = target.region(offset, length, prot);
      if (typeof r === 'number') return -BigInt(r);
      region = r;
      buf = r.buf;
    }
    const a = this.next;
    this.next += BigInt(Math.ceil(length / PAGE) * PAGE + PAGE);
    this.calls.push({ addr: a, length, prot, flags, fd, offset });
    this.live.set(a, { length, buf, region });
    return a;
  }

  /** Anonymous zero pages over a mapping: the object keeps its bytes (in a new buffer), this range reads zeros. */
  private replace(m: Live): void {
    const r = m.region;
    m.region = undefined;
    if (!r || r.buf !== m.buf) return;
    for (const other of this.live.values()) if (other !== m && other.buf === m.buf) return; // still mapped elsewhere: pages stay
    r.buf = m.buf.slice(0);
    new Uint8Array(m.buf).fill(0);
  }

  munmap(addr: bigint, length: number): number {
    const m = this.live.get(addr);
    if (!m || m.length !== length) return -EINVAL;
    this.live.delete(addr);
    return 0;
  }

  view(addr: bigint, length: number): ArrayBuffer {
    const m = this.live.get(addr);
    if (!m || length > m.length) throw new Error(`fake: no mapping of ${length} bytes at 0x${addr.toString(16)}`);
    return m.buf;
  }
}

/**
 * A BPF_MAP_TYPE_RINGBUF's memory and its producer, following kernel/bpf/ringbuf.c: the consumer
 * page (offset 0, the only page a process may map writable), then the producer page and the data
 * area twice (offset one page, read-only). `reserve`/`submit`/`discard`/`output` do what
 * bpf_ringbuf_reserve/submit/discard/output do; positions are the kernel's 64-bit counters.
 */
export class FakeRing implements Mappable {
  private readonly cons: Region;
  private readonly prod: Region;
  private readonly mask: number;
  /** Oldest record not yet committed (the kernel's pending_pos). */
  private pending = 0;

  constructor(readonly size: number) {
    this.mask = size - 1;
    this.cons = { buf: new ArrayBuffer(PAGE) };
    this.prod = { buf: new ArrayBuffer(PAGE + 2 * size) };
  }

  region(offset: number, length: number, prot: number): Region | number {
    // ringbuf_map_mmap_kern: writable only as the consumer page alone.
    if (prot & PROT_WRITE && (offset !== 0 || length !== PAGE)) return EPERM;
    if (offset === 0 && length === PAGE) return this.cons;
    if (offset === PAGE && length > 0 && length <= PAGE + 2 * this.size) return this.prod;
    return EINVAL; // the kernel maps other page ranges too; the fake models the ones readers map
  }

  /** consumer_pos, as the reader last stored it. */
  get consumerPos(): number {
    return Number(new BigUint64Array(this.cons.buf, 0, 1)[0]);
  }
  get producerPos(): number {
    return Number(new BigUint64Array(this.prod.buf, 0, 1)[0]);
  }
  private set producerPos(v: number) {
    new BigUint64Array(this.prod.buf, 0, 1)[0] = BigInt(v);
  }

  /** Bytes at ring position `pos` (any 64-bit position), written through both aliases of the data area. */
  write(pos: number, bytes: Uint8Array): void {
    const data = new Uint8Array(this.prod.buf, PAGE, 2 * this.size);
    for (let i = 0; i < bytes.length; i++) {
      const o = (pos + i) & this.mask;
      data[o] = data[o + this.size] = bytes[i]!;
    }
  }

  private u32(pos: number): number {
    return new DataView(this.prod.buf, PAGE).getUint32(pos & this.mask, true);
  }

  /** A record header's words at `pos`: `len` with its BUSY/DISCARD bits, and pg_off. */
  writeHeader(pos: number, len: number, pgOff = RINGBUF_PGOFF + RINGBUF_POS_PAGES + ((pos & this.mask) >>> 12)): void {
    const h = new Uint8Array(8);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, len >>> 0, true);
    dv.setUint32(4, pgOff, true);
    this.write(pos, h);
  }

  /**
   * bpf_ringbuf_reserve: room for `size` bytes, the header marked BUSY; returns the record's
   * position (its header), or undefined when it does not fit (as the helper returns NULL).
   */
  reserve(size: number): number | undefined {
    const len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    if (size < 0 || len > this.size) return undefined;
    const cons = this.consumerPos;
    const prod = this.producerPos;
    let pend = this.pending;
    while (pend < prod) {
      const h = this.u32(pend);
      if (h & BPF_RINGBUF_BUSY_BIT) break;
      pend += ((h & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    this.pending = pend;
    const next = prod + len;
    // The kernel compares unsigned 64-bit distances: a consumer_pos past the producer is "full".
    const over = (d: number) => d < 0 || d > this.mask;
    if (over(next - cons) || over(next - pend)) return undefined;
    this.writeHeader(prod, (size | BPF_RINGBUF_BUSY_BIT) >>> 0);
    this.producerPos = next;
    return prod;
  }

  /** bpf_ringbuf_submit / bpf_ringbuf_discard on the record at `pos`. */
  submit(pos: number, discard = false): void {
    const h = this.u32(pos);
    if (!(h & BPF_RINGBUF_BUSY_BIT)) throw new Error(`fake ring: record at ${pos} is not reserved`);
    let len = (h ^ BPF_RINGBUF_BUSY_BIT) >>> 0;
    if (discard) len = (len | BPF_RINGBUF_DISCARD_BIT) >>> 0;
    const w = new Uint8Array(4);
    new DataView(w.buffer).setUint32(0, len, true);
    this.write(pos, w);
  }

  discard(pos: number): void {
    this.submit(pos, true);
  }

  /** bpf_ringbuf_output: reserve, copy, submit; false when there is no room. */
  output(bytes: Uint8Array): boolean {
    const pos = this.reserve(bytes.length);
    if (pos === undefined) return false;
    this.write(pos + BPF_RINGBUF_HDR_SZ, bytes);
    this.submit(pos);
    return true;
  }
}

/**
 * A perf event's ring (struct perf_event_mmap_page, then 2^n data pages, mapped once: no double
 * mapping), with a producer that writes records as perf_output_* does for bpf_perf_event_output:
 * PERF_RECORD_SAMPLE with the attr's sample fields (TIME, RAW padded to 8 bytes), and a
 * PERF_RECORD_LOST before the next record that fits after samples were dropped.
 */
export class FakePerfEvent implements Mappable {
  private ring?: Region;
  private dataSize = 0;
  /** Samples dropped since the last LOST record was written. */
  private dropped = 0n;
  /** Whether PERF_EVENT_IOC_ENABLE was issued. */
  enabled = false;

  constructor(
    readonly attr: Uint8Array,
    readonly cpu: number,
    readonly id: bigint,
  ) {}

  get sampleType(): bigint {
    return new DataView(this.attr.buffer, this.attr.byteOffset).getBigUint64(24, true);
  }

  region(offset: number, length: number): Region | number {
    const pages = length / PAGE - 1;
    // perf_mmap: the whole ring from offset 0, 1 + 2^n pages; the first mapping fixes its size.
    if (offset !== 0 || !Number.isInteger(pages) || pages < 1 || pages & (pages - 1)) return EINVAL;
    if (this.ring) return this.dataSize === pages * PAGE ? this.ring : EINVAL;
    this.dataSize = pages * PAGE;
    this.ring = { buf: new ArrayBuffer(length) };
    const dv = new DataView(this.ring.buf);
    dv.setBigUint64(1040, BigInt(PAGE), true); // data_offset
    dv.setBigUint64(1048, BigInt(this.dataSize), true); // data_size
    return this.ring;
  }

  private control(): DataView {
    if (!this.ring) throw new Error('fake perf event: not mapped');
    return new DataView(this.ring.buf);
  }
  get head(): number {
    return Number(this.control().getBigUint64(1024, true));
  }
  get tail(): number {
    return Number(this.control().getBigUint64(1032, true));
  }

  /** A whole record (header included) at the head, wrapping at the end of the data area; false when it does not fit. */
  record(type: number, body: Uint8Array, misc = 0): boolean {
    const size = 8 + body.length;
    if (size > 0xffff) throw new Error('fake perf event: record over 64 KiB');
    const head = this.head;
    if (head + size - this.tail > this.dataSize) return false;
    const rec = new Uint8Array(size);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, type, true);
    dv.setUint16(4, misc, true);
    dv.setUint16(6, size, true);
    rec.set(body, 8);
    const data = new Uint8Array(this.ring!.buf, PAGE, this.dataSize);
    for (let i = 0; i < size; i++) data[(head + i) % this.dataSize] = rec[i]!;
    this.control().setBigUint64(1024, BigInt(head + size), true);
    return true;
  }

  /**
   * bpf_perf_event_output of `raw`: false (counted as lost) when the ring has no room. After a
   * drop, the next sample that fits is preceded by a LOST record with the count (perf_output_begin
   * reserves room for both).
   */
  sample(raw: Uint8Array, time = 0n): boolean {
    const st = this.sampleType;
    const withTime = (st & PERF_SAMPLE_TIME) !== 0n;
    const rawSize = st & PERF_SAMPLE_RAW ? ((raw.length + 4 + 7) & ~7) - 4 : 0;
    const body = new Uint8Array((withTime ? 8 : 0) + (st & PERF_SAMPLE_RAW ? 4 + rawSize : 0));
    const dv = new DataView(body.buffer);
    let at = 0;
    if (withTime) {
      dv.setBigUint64(0, time, true);
      at = 8;
    }
    if (st & PERF_SAMPLE_RAW) {
      dv.setUint32(at, rawSize, true);
      body.set(raw, at + 4);
    }
    const lostSize = this.dropped > 0n ? 24 : 0;
    if (this.head + lostSize + 8 + body.length - this.tail > this.dataSize) {
      this.dropped++;
      return false;
    }
    if (lostSize) {
      const lost = new Uint8Array(16);
      const ldv = new DataView(lost.buffer);
      ldv.setBigUint64(0, this.id, true);
      ldv.setBigUint64(8, this.dropped, true);
      this.record(PERF_RECORD_LOST, lost);
      this.dropped = 0n;
    }
    return this.record(PERF_RECORD_SAMPLE, body);
  }
}
