// Perf event array reader (BPF_MAP_TYPE_PERF_EVENT_ARRAY + bpf_perf_event_output), for probes
// written against it and kernels before 5.8. One perf ring per possible CPU: perf_event_open
// (software BPF_OUTPUT event, raw samples), mmap 1 + 2^n pages, fd stored in the map at key = cpu.
// Control page: data_head at 1024 (acquire), data_tail at 1032 (release). Records are
// { u32 type; u16 misc; u16 size; } + body; SAMPLE (9) carries u32 size + raw bytes, LOST (2)
// carries id + count. There is no double mapping, so a record that wraps is reassembled.
import type { Decoder } from '../maps/codec.js';
import { compileDecoder } from '../maps/decoder.js';
import type { BpfMap } from '../maps/map.js';
import { PROT_READ, PROT_WRITE, sys } from '../syscall/backend.js';
import { MapType } from '../syscall/constants.js';
import { BpfError } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { Mapping } from '../syscall/mapping.js';
import { ioctl, PERF_COUNT_SW_BPF_OUTPUT, PERF_EVENT_IOC_ENABLE, PERF_SAMPLE_RAW, PERF_SAMPLE_TIME, PERF_TYPE_SOFTWARE, perfEventOpen } from '../syscall/perf.js';
import { type Pollable, Poller, ReaderError } from './poller.js';
import { type RawRecordHandler, type RecordReader, RecordQueue } from './reader.js';

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;

export interface PerfBufOptions {
  /** Data pages per CPU (a power of two; default 64). */
  pages?: number;
  /** Wake the reader after this many samples (default 1). */
  wakeupEvents?: number;
  valueTypeId?: number;
  /** Also take each sample's time (PERF_SAMPLE_TIME), as bpftool's `map event_pipe` does. */
  sampleTime?: boolean;
  /** Only these CPUs, each at its own map key (default: every possible CPU, at key = cpu). */
  cpus?: { cpu: number; key: number }[];
}

/** One record of a CPU ring, as `onEvent` hands it over (data copied out of the ring). */
export interface PerfEvent {
  /** PERF_RECORD_SAMPLE (9), PERF_RECORD_LOST (2), or another record type. */
  type: number;
  cpu: number;
  /** The map key the CPU's ring is stored at. */
  key: number;
  /** The record's size, header included. */
  size: number;
  /** SAMPLE with `sampleTime`: the sample's time (ns, CLOCK_MONOTONIC). */
  time?: bigint;
  /** SAMPLE: the raw bytes (as the kernel padded them to 8-byte alignment). */
  data?: Uint8Array;
  /** LOST: the event id and how many samples were lost. */
  lostId?: bigint;
  lost?: bigint;
}

class CpuRing implements Pollable {
  readonly pollFd: number;
  private readonly mapping: Mapping;
  private readonly head: BigUint64Array;
  private readonly tail: BigUint64Array;
  private readonly data: Uint8Array;
  private readonly dv: DataView;
  private readonly size: number;
  private scratch = new Uint8Array(256);
  closed = false;

  constructor(
    readonly cpu: number,
    readonly key: number,
    readonly fd: Fd,
    pages: number,
    private readonly owner: PerfBufReader,
  ) {
    const page = sys().pageSize();
    this.size = pages * page;
    this.mapping = Mapping.shared((pages + 1) * page, PROT_READ | PROT_WRITE, fd.value, 0, `perf buffer cpu ${cpu}`);
    const ab = this.mapping.buffer;
    this.head = new BigUint64Array(ab, 1024, 1);
    this.tail = new BigUint64Array(ab, 1032, 1);
    this.data = new Uint8Array(ab, page, this.size);
    this.dv = new DataView(ab, page, this.size);
    this.pollFd = fd.value;
  }

  get active(): boolean {
    return !this.closed && this.owner.active;
  }

  drain(): number {
    return this.owner.active ? this.read(this.owner.deliver) : 0;
  }

  read(fn: (view: DataView, off: number, len: number) => void): number {
    if (this.closed) return 0;
    const head = Number(Atomics.load(this.head, 0));
    let tail = Number(Atomics.load(this.tail, 0));
    const mask = this.size - 1;
    let n = 0;
    while (tail < head) {
      const off = tail & mask;
      // The 8-byte header itself may wrap.
      const hdr = this.contiguous(off, 8);
      const type = hdr.view.getUint32(hdr.off, true);
      const recSize = hdr.view.getUint16(hdr.off + 6, true);
      if (recSize < 8) break;
      const rec = this.contiguous(off, recSize);
      const at = this.owner.sampleTime ? 8 : 0; // the u64 time comes before the raw data
      const hook = this.owner.eventHook;
      if (type === PERF_RECORD_LOST && recSize >= 24) this.owner.lost += Number(rec.view.getBigUint64(rec.off + 16, true));
      if (hook) {
        const e: PerfEvent = { type, cpu: this.cpu, key: this.key, size: recSize };
        if (type === PERF_RECORD_SAMPLE && recSize >= 12 + at) {
          if (at) e.time = rec.view.getBigUint64(rec.off + 8, true);
          const len = Math.min(rec.view.getUint32(rec.off + 8 + at, true), recSize - 12 - at);
          e.data = new Uint8Array(rec.view.buffer.slice(rec.view.byteOffset + rec.off + 12 + at, rec.view.byteOffset + rec.off + 12 + at + len));
          n++;
        } else if (type === PERF_RECORD_LOST && recSize >= 24) {
          e.lostId = rec.view.getBigUint64(rec.off + 8, true);
          e.lost = rec.view.getBigUint64(rec.off + 16, true);
        }
        hook(e);
      } else if (type === PERF_RECORD_SAMPLE) {
        const len = rec.view.getUint32(rec.off + 8 + at, true);
        fn(rec.view, rec.off + 12 + at, Math.min(len, recSize - 12 - at));
        n++;
      }
      tail += recSize;
      if (this.closed) return n;
    }
    Atomics.store(this.tail, 0, BigInt(tail));
    return n;
  }

  /** A view where [off, off+len) is contiguous: the ring itself, or a copy when it wraps. */
  private contiguous(off: number, len: number): { view: DataView; off: number } {
    if (off + len <= this.size) return { view: this.dv, off };
    if (this.scratch.length < len) this.scratch = new Uint8Array(len * 2);
    const first = this.size - off;
    this.scratch.set(this.data.subarray(off, this.size), 0);
    this.scratch.set(this.data.subarray(0, len - first), first);
    return { view: new DataView(this.scratch.buffer, 0, len), off: 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Poller.get().remove(this);
    this.mapping.close();
    this.fd.close();
  }
}

/**
 * Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY map, one perf ring per CPU (see {@link RecordReader});
 * also every record with its CPU and time (`onEvent`).
 * @public
 */
export class PerfBufReader implements RecordReader {
  private readonly rings: CpuRing[] = [];
  private decoder?: Decoder;
  private handler?: RawRecordHandler;
  private readonly pending = new RecordQueue();
  readonly name: string;
  /** Samples the kernel reported as lost (ring full). */
  lost = 0;
  /** A perf buffer reports its losses (lost): always 0. */
  readonly fullSeen = 0;
  /** Every record to `onEvent`'s handler instead of samples to `onRaw`'s. @internal */
  eventHook?: (e: PerfEvent) => void;
  readonly sampleTime: boolean;
  delivered = 0;
  closed = false;

  /**
   * @throws {@link ReaderError} when the map is not a perf event array or `pages` is not a power of two;
   * @throws {@link BpfError} when perf_event_open, the map update or the mmap fails (nothing is left open).
   */
  constructor(
    readonly map: BpfMap,
    opts: PerfBufOptions = {},
  ) {
    if (map.type !== MapType.PERF_EVENT_ARRAY) throw new ReaderError(`map '${map.name}' is ${map.typeName}, not a perf event array`);
    this.name = map.name;
    const pages = opts.pages ?? 64;
    if (pages & (pages - 1)) throw new ReaderError('perf buffer pages must be a power of two');
    this.sampleTime = !!opts.sampleTime;
    const sampleType = BigInt(PERF_SAMPLE_RAW | (opts.sampleTime ? PERF_SAMPLE_TIME : 0));
    const ncpu = Math.min(sys().numPossibleCpus(), map.maxEntries);
    const targets = opts.cpus ?? Array.from({ length: ncpu }, (_, cpu) => ({ cpu, key: cpu }));
    try {
      for (const { cpu, key } of targets) {
        let fd: Fd;
        try {
          fd = perfEventOpen({ type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_BPF_OUTPUT), sampleType, samplePeriod: 1n, wakeupEvents: opts.wakeupEvents ?? 1 }, -1, cpu, `perf buffer '${map.name}' cpu ${cpu}`);
        } catch (e) {
          if (!opts.cpus && e instanceof BpfError && e.errno === 19) continue; // offline CPU
          throw e;
        }
        const ring = new CpuRing(cpu, key, fd, pages, this);
        this.rings.push(ring);
        map.update(key, fd.value);
        ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, `perf buffer cpu ${cpu}`);
      }
    } catch (e) {
      this.close();
      throw e;
    }
    const vt = opts.valueTypeId ?? map.valueTypeId;
    if (map.btf && vt) this.decoder = compileDecoder(map.btf, vt);
  }

  /** Whether the poller should drain the CPU rings now. @internal */
  get active(): boolean {
    return !this.closed && (this.handler !== undefined || this.eventHook !== undefined || this.pending.wanted);
  }

  /** The current handler (or the async iterator's queue), counted. @internal */
  readonly deliver = (view: DataView, off: number, len: number): void => {
    this.delivered++;
    if (this.handler) this.handler(view, off, len);
    else if (this.decoder && this.pending.wanted) this.pending.push(this.decoder(view, off));
  };

  /** Read every CPU ring now into the current handler. @internal */
  drain(): number {
    let n = 0;
    for (const r of this.rings) n += r.drain();
    return n;
  }

  /** Read every CPU ring now; `fn(view, offset, length)` per sample (view valid during the call). */
  consumeRaw(fn: RawRecordHandler): number {
    let n = 0;
    for (const r of this.rings) n += r.read(fn);
    this.delivered += n;
    return n;
  }

  /** @throws {@link ReaderError} when the map has no value type to decode with. */
  consume(fn: (record: unknown) => void): number {
    const dec = this.decoder;
    if (!dec) throw new ReaderError(`perf buffer '${this.map.name}' has no value type: use consumeRaw`);
    return this.consumeRaw((v, off) => fn(dec(v, off)));
  }

  onRaw(fn: RawRecordHandler): this {
    this.handler = fn;
    for (const r of this.rings) Poller.get().add(r);
    return this;
  }

  /** Every record as it comes (samples with their CPU, key and time; lost-sample reports), from the poller. */
  onEvent(fn: (e: PerfEvent) => void): this {
    this.eventHook = fn;
    for (const r of this.rings) Poller.get().add(r);
    return this;
  }

  /** @throws {@link ReaderError} when the map has no value type to decode with. */
  onRecord(fn: (record: unknown) => void): this {
    const dec = this.decoder;
    if (!dec) throw new ReaderError(`perf buffer '${this.map.name}' has no value type to decode with`);
    return this.onRaw((v, off) => fn(dec(v, off)));
  }

  /**
   * Decoded samples as an async iterator (ends when the reader is closed).
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (!this.decoder) throw new ReaderError(`perf buffer '${this.map.name}' has no value type to decode with`);
    const it = this.pending.iterator({ closed: () => this.closed, drain: () => this.drain(), kick: () => Poller.get().kick(), close: () => this.close() });
    for (const r of this.rings) Poller.get().add(r);
    return it;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.rings) r.close();
    this.pending.end();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
