// An in-memory stand-in for the kernel behind the syscall seam, for unit tests of the layers
// above (maps, codecs, CLI formatting) without root. It models map creation, element
// operations, key iteration, BPF_MAP_LOOKUP_BATCH (hash buckets, ENOSPC, ENOENT at the end, as
// kernel/bpf/hashtab.c walks them), freezing, pinning and fds; it records BTF loads (btfLoads),
// program loads (progLoads: the instructions as relocated) and links or attachments (links:
// LINK_CREATE, RAW_TRACEPOINT_OPEN, PROG_ATTACH), accepting them (no verifier); other commands
// answer ENOSYS. It also maps memory (fake-memory.ts): a ring buffer map's pages
// with a producer that writes the kernel's record layout (ring(fd)), and perf events
// (perf_event_open, ENABLE, their mmap'd ring with a producer: perfEvent(fd)); every mmap is
// recorded (memory.calls).
import type { BpfObjectKind, SyscallBackend } from './backend.js';
import { Cmd } from './bpf.js';
import { MapType } from './constants.js';
import { FakeAddressSpace, FakePerfEvent, FakeRing } from './fake-memory.js';
import { mapTraits } from './map-traits.js';
import { E2BIG, EBADF, EEXIST, EINVAL, ENOENT, ENOSPC, ENOSYS, EPERM } from './errno.js';

interface FakeMap {
  id: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  frozen: boolean;
  entries: Map<string, Uint8Array>;
  /** A ring buffer map's memory and producer. */
  ring?: FakeRing;
}

/** A BPF_PROG_LOAD the fake answered: the attr's fields and the instructions (copied). */
export interface FakeProgLoad {
  fd: number;
  id: number;
  type: number;
  expectedAttachType: number;
  name: string;
  license: string;
  /** The instructions as loaded (8 bytes each): what relocation produced. */
  insns: Uint8Array;
  flags: number;
  attachBtfId: number;
}

/** A link or attachment the fake answered: LINK_CREATE, RAW_TRACEPOINT_OPEN or PROG_ATTACH, with its attr (copied). */
export interface FakeLink {
  cmd: number;
  /** The link's fd (LINK_CREATE, RAW_TRACEPOINT_OPEN); undefined for PROG_ATTACH. */
  fd?: number;
  progFd: number;
  targetFd: number;
  attachType: number;
  flags: number;
  attr: Uint8Array;
}

const PERF_EVENT_IOC_ENABLE = 0x2400;
const PERF_EVENT_IOC_DISABLE = 0x2401;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class FakeBackend implements SyscallBackend {
  readonly name = 'fake';
  private nextFd = 100;
  private nextId = 1;
  private nextAddr = 0x10000n;
  // Every buffer whose address was taken gets its own range: identity → address, and the ranges
  // in ascending address order (found by binary search).
  private readonly addrOf = new Map<Uint8Array, bigint>();
  private readonly ranges: { a: bigint; b: Uint8Array }[] = [];
  readonly fds = new Map<number, FakeMap>();
  readonly pins = new Map<string, FakeMap>();
  calls: { cmd: number; size: number }[] = [];
  /** Every program load, in order. */
  readonly progLoads: FakeProgLoad[] = [];
  /** Every link made or program attached, in order. */
  readonly links: FakeLink[] = [];
  private readonly progFds = new Map<number, FakeProgLoad>();
  private readonly linkFds = new Set<number>();
  /** The BTF blobs BPF_BTF_LOAD was given, in order (copies): what sanitizing produced. */
  readonly btfLoads: Uint8Array[] = [];
  private readonly btfFds = new Set<number>();
  /** Runs before every bpf() call (tests change a map between the calls of a dump). */
  beforeCall?: (cmd: number) => void;
  /**
   * Hash buckets for BPF_MAP_LOOKUP_BATCH: a key's bucket is its first byte modulo this. The
   * kernel returns whole buckets only: a bucket larger than the room left ends the call, and
   * ENOSPC if nothing was copied yet.
   */
  batchBuckets = 256;
  /** Commands the fake refuses with an errno (a kernel without them, or a map type that has not). */
  refuse = new Map<number, number>();
  /** What mmap() mapped: every call (memory.calls) and the mappings still live (memory.size). */
  readonly memory = new FakeAddressSpace();
  /** Open perf events by fd. */
  readonly perfFds = new Map<number, FakePerfEvent>();
  /** Every perf_event_open, in order (perf_event_attr copied). */
  readonly perfOpens: FakePerfEvent[] = [];

  constructor(private readonly ncpu = 2) {}

  addressOf(buf: Uint8Array): bigint {
    const known = this.addrOf.get(buf);
    if (known !== undefined) return known;
    const a = this.nextAddr;
    this.nextAddr += BigInt(buf.length + 4096);
    this.addrOf.set(buf, a);
    this.ranges.push({ a, b: buf });
    return a;
  }
  /** The buffer whose range holds `addr`, if any. */
  private rangeAt(addr: bigint): { a: bigint; b: Uint8Array } | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid]!.a <= addr) lo = mid + 1;
      else hi = mid - 1;
    }
    const r = this.ranges[hi];
    return r && addr < r.a + BigInt(r.b.length) ? r : undefined;
  }
  private mem(addr: bigint, len: number): Uint8Array {
    if (addr === 0n) throw new Error('null pointer');
    const r = this.rangeAt(addr);
    if (r && addr + BigInt(len) <= r.a + BigInt(r.b.length)) return r.b.subarray(Number(addr - r.a), Number(addr - r.a) + len);
    throw new Error(`fake: unknown address 0x${addr.toString(16)}`);
  }

  bpf(cmd: number, attr: Uint8Array, size: number): number {
    this.calls.push({ cmd, size });
    this.beforeCall?.(cmd);
    const refused = this.refuse.get(cmd);
    if (refused) return -refused;
    const dv = new DataView(attr.buffer, attr.byteOffset, attr.byteLength);
    const u32 = (o: number) => dv.getUint32(o, true);
    const u64 = (o: number) => dv.getBigUint64(o, true);
    switch (cmd) {
      case Cmd.MAP_CREATE: {
        const type = u32(0);
        if (type === 0 || type > 33) return -EINVAL;
        const m: FakeMap = {
          id: this.nextId++,
          type,
          keySize: u32(4),
          valueSize: u32(8),
          maxEntries: u32(12),
          flags: u32(16),
          name: Buffer.from(attr.subarray(28, 44)).toString('latin1').replace(/\0.*$/, ''),
          frozen: false,
          entries: new Map(),
        };
        if (m.maxEntries === 0) return -EINVAL;
        if (type === MapType.RINGBUF) {
          // ringbuf_map_alloc: no key or value, a power-of-2 number of pages.
          if (m.keySize || m.valueSize || m.maxEntries & (m.maxEntries - 1) || m.maxEntries % this.pageSize()) return -EINVAL;
          m.ring = new FakeRing(m.maxEntries);
        }
        const fd = this.nextFd++;
        this.fds.set(fd, m);
        return fd;
      }
      case Cmd.MAP_LOOKUP_ELEM:
      case Cmd.MAP_UPDATE_ELEM:
      case Cmd.MAP_DELETE_ELEM:
      case Cmd.MAP_GET_NEXT_KEY: {
        const m = this.fds.get(u32(0));
        if (!m) return -EBADF;
        const { perCpu: percpu, valueArray: isArray } = mapTraits(m.type);
        const vsize = percpu ? Math.ceil(m.valueSize / 8) * 8 * this.ncpu : m.valueSize;
        const keyPtr = u64(8);
        const key = keyPtr ? this.mem(keyPtr, m.keySize) : undefined;
        if (isArray && key && Buffer.from(key).readUInt32LE() >= m.maxEntries) return cmd === Cmd.MAP_GET_NEXT_KEY ? -EINVAL : -ENOENT;
        const k = key ? hex(key) : '';
        if (cmd === Cmd.MAP_LOOKUP_ELEM) {
          const v = m.entries.get(k) ?? (isArray ? new Uint8Array(vsize) : undefined);
          if (!v) return -ENOENT;
          this.mem(u64(16), vsize).set(v);
          return 0;
        }
        if (cmd === Cmd.MAP_UPDATE_ELEM) {
          if (m.frozen) return -EPERM;
          const flags = Number(u64(24));
          const exists = m.entries.has(k) || isArray;
          if (flags === 1 && exists) return -EEXIST;
          if (flags === 2 && !exists) return -ENOENT;
          if (!exists && m.entries.size >= m.maxEntries) return -E2BIG;
          m.entries.set(k, Uint8Array.from(this.mem(u64(16), vsize)));
          return 0;
        }
        if (cmd === Cmd.MAP_DELETE_ELEM) {
          if (isArray) return -EINVAL;
          return m.entries.delete(k) ? 0 : -ENOENT;
        }
        // GET_NEXT_KEY: insertion order (arrays: index order)
        const keys = isArray
          ? Array.from({ length: m.maxEntries }, (_, i) => {
              const b = Buffer.alloc(4);
              b.writeUInt32LE(i);
              return b.toString('hex');
            })
          : [...m.entries.keys()];
        const idx = key ? keys.indexOf(k) : -1;
        const next = key && idx < 0 ? keys[0] : keys[idx + 1];
        if (next === undefined) return -ENOENT;
        this.mem(u64(16), m.keySize).set(Buffer.from(next, 'hex'));
        return 0;
      }
      case Cmd.MAP_LOOKUP_BATCH: {
        const m = this.fds.get(u32(36));
        if (!m) return -EBADF;
        const { perCpu, valueArray, batchable } = mapTraits(m.type);
        if (!batchable) return -EINVAL;
        const vsize = perCpu ? Math.ceil(m.valueSize / 8) * 8 * this.ncpu : m.valueSize;
        const max = u32(32);
        if (max === 0) return -EINVAL;
        // The token is a bucket index (u32), as the kernel's htab batch keeps it; arrays: one index per bucket.
        const inPtr = u64(0);
        let bucket = inPtr ? new DataView(this.mem(inPtr, 4).buffer, this.mem(inPtr, 4).byteOffset, 4).getUint32(0, true) : 0;
        const nBuckets = valueArray ? m.maxEntries : this.batchBuckets;
        const inBucket = (b: number): [string, Uint8Array][] => {
          if (valueArray) {
            const k = Buffer.alloc(4);
            k.writeUInt32LE(b);
            const h = k.toString('hex');
            return [[h, m.entries.get(h) ?? new Uint8Array(vsize)]];
          }
          return [...m.entries].filter(([h]) => parseInt(h.slice(0, 2), 16) % nBuckets === b);
        };
        let total = 0;
        let err = 0;
        for (; bucket < nBuckets; bucket++) {
          const got = inBucket(bucket);
          if (got.length > max - total) {
            if (total === 0) err = -ENOSPC;
            break;
          }
          for (const [h, v] of got) {
            this.mem(u64(16) + BigInt(total * m.keySize), m.keySize).set(Buffer.from(h, 'hex'));
            this.mem(u64(24) + BigInt(total * vsize), vsize).set(v);
            total++;
          }
        }
        if (bucket >= nBuckets && err === 0) err = -ENOENT;
        const out = this.mem(u64(8), 4);
        new DataView(out.buffer, out.byteOffset, 4).setUint32(0, bucket, true);
        dv.setUint32(32, total, true);
        return err;
      }
      case Cmd.MAP_FREEZE: {
        const m = this.fds.get(u32(0));
        if (!m) return -EBADF;
        m.frozen = true;
        return 0;
      }
      case Cmd.OBJ_PIN: {
        const m = this.fds.get(u32(8));
        if (!m) return -EBADF;
        const path = this.cstring(u64(0));
        if (this.pins.has(path)) return -EEXIST;
        this.pins.set(path, m);
        return 0;
      }
      case Cmd.OBJ_GET: {
        const m = this.pins.get(this.cstring(u64(0)));
        if (!m) return -ENOENT;
        const fd = this.nextFd++;
        this.fds.set(fd, m);
        return fd;
      }
      case Cmd.BTF_LOAD: {
        // Recorded, not checked: the kernel's BTF verifier is not modelled (tests parse the blob).
        this.btfLoads.push(Uint8Array.from(this.mem(u64(0), dv.getUint32(16, true))));
        const fd = this.nextFd++;
        this.btfFds.add(fd);
        return fd;
      }
      case Cmd.PROG_LOAD: {
        // Recorded and accepted: the verifier is not modelled (tests read the instructions back).
        const fd = this.nextFd++;
        const p: FakeProgLoad = {
          fd,
          id: this.nextId++,
          type: u32(0),
          expectedAttachType: u32(68),
          name: Buffer.from(attr.subarray(48, 64)).toString('latin1').replace(/\0.*$/, ''),
          license: this.cstring(u64(16)),
          insns: Uint8Array.from(this.mem(u64(8), u32(4) * 8)),
          flags: u32(44),
          attachBtfId: u32(108),
        };
        this.progLoads.push(p);
        this.progFds.set(fd, p);
        return fd;
      }
      case Cmd.LINK_CREATE:
      case Cmd.RAW_TRACEPOINT_OPEN:
      case Cmd.PROG_ATTACH: {
        const raw = cmd === Cmd.RAW_TRACEPOINT_OPEN;
        const progFd = raw ? u32(8) : cmd === Cmd.PROG_ATTACH ? u32(4) : u32(0);
        if (!this.progFds.has(progFd)) return -EBADF;
        const fd = cmd === Cmd.PROG_ATTACH ? undefined : this.nextFd++;
        const l: FakeLink = {
          cmd,
          fd,
          progFd,
          targetFd: raw ? -1 : cmd === Cmd.PROG_ATTACH ? u32(0) : u32(4),
          attachType: raw ? 0 : u32(8),
          flags: raw ? 0 : u32(12),
          attr: Uint8Array.from(attr.subarray(0, size)),
        };
        this.links.push(l);
        if (fd === undefined) return 0;
        this.linkFds.add(fd);
        return fd;
      }
      case Cmd.PROG_BIND_MAP:
        return this.progFds.has(u32(0)) && this.fds.has(u32(4)) ? 0 : -EBADF;
      case Cmd.OBJ_GET_INFO_BY_FD: {
        const m = this.fds.get(u32(0));
        if (!m) return -EBADF;
        const info = this.mem(u64(8), u32(4));
        const b = Buffer.from(info.buffer, info.byteOffset, info.byteLength);
        b.fill(0);
        if (b.length >= 40) {
          b.writeUInt32LE(m.type, 0);
          b.writeUInt32LE(m.id, 4);
          b.writeUInt32LE(m.keySize, 8);
          b.writeUInt32LE(m.valueSize, 12);
          b.writeUInt32LE(m.maxEntries, 16);
          b.writeUInt32LE(m.flags, 20);
          b.write(m.name, 24, 'latin1');
        }
        return 0;
      }
      default:
        return -ENOSYS;
    }
  }

  /** The NUL-terminated string a recorded attr points to (a name, a path). */
  cstringAt(addr: bigint): string {
    return this.cstring(addr);
  }

  private cstring(addr: bigint): string {
    const r = this.rangeAt(addr);
    if (!r) throw new Error('fake: bad string pointer');
    const s = r.b.subarray(Number(addr - r.a));
    const z = s.indexOf(0);
    return Buffer.from(s.subarray(0, z < 0 ? s.length : z)).toString('utf8');
  }

  /** The ring buffer map behind `fd`: its producer writes records the reader walks. */
  ring(fd: number): FakeRing {
    const r = this.fds.get(fd)?.ring;
    if (!r) throw new Error(`fake: fd ${fd} is not a ring buffer map`);
    return r;
  }
  /** The perf event behind `fd` (open). */
  perfEvent(fd: number): FakePerfEvent {
    const e = this.perfFds.get(fd);
    if (!e) throw new Error(`fake: fd ${fd} is not a perf event`);
    return e;
  }

  perfEventOpen(attr: Uint8Array, _pid: number, cpu: number): number {
    if (cpu < 0 || cpu >= this.ncpu) return -EINVAL;
    const fd = this.nextFd++;
    const e = new FakePerfEvent(Uint8Array.from(attr), cpu, BigInt(this.nextId++));
    this.perfFds.set(fd, e);
    this.perfOpens.push(e);
    return fd;
  }
  /** PERF_EVENT_IOC_ENABLE / DISABLE on perf events; other ioctls answer ENOSYS. */
  ioctl(fd: number, request: number): number {
    const e = this.perfFds.get(fd);
    if (!e || (request !== PERF_EVENT_IOC_ENABLE && request !== PERF_EVENT_IOC_DISABLE)) return -ENOSYS;
    e.enabled = request === PERF_EVENT_IOC_ENABLE;
    return 0;
  }
  close(fd: number): number {
    return this.fds.delete(fd) || this.btfFds.delete(fd) || this.perfFds.delete(fd) || this.progFds.delete(fd) || this.linkFds.delete(fd) ? 0 : -EBADF;
  }
  dupCloexec(fd: number): number {
    const m = this.fds.get(fd);
    if (!m) return -EBADF;
    const n = this.nextFd++;
    this.fds.set(n, m);
    return n;
  }
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, addr?: bigint): bigint {
    return this.memory.mmap(length, prot, flags, this.fds.get(fd)?.ring ?? this.perfFds.get(fd), fd, offset, addr);
  }
  munmap(addr: bigint, length: number): number {
    return this.memory.munmap(addr, length);
  }
  epollCreate(): number {
    return -ENOSYS;
  }
  epollCtl(): number {
    return -ENOSYS;
  }
  epollWait(): number {
    return -ENOSYS;
  }
  epollWaitAsync(_e: number, _b: Uint8Array, _m: number, _t: number, cb: (r: number) => void): void {
    cb(-ENOSYS);
  }
  eventfd(): number {
    return -ENOSYS;
  }
  socket(): number {
    return -ENOSYS;
  }
  setsockoptInt(): number {
    return -ENOSYS;
  }
  read(): number {
    return -ENOSYS;
  }
  flock(): number {
    return 0;
  }
  write(): number {
    return -ENOSYS;
  }
  getrlimit(): { cur: bigint; max: bigint } {
    return { cur: 8n << 20n, max: 8n << 20n };
  }
  setrlimit(): number {
    return 0;
  }
  view(addr: bigint, length: number): ArrayBuffer {
    return this.memory.view(addr, length);
  }
  pageSize(): number {
    return 4096;
  }
  /** The fake's clocks: settable, so time conversions have known answers. */
  clocks: Record<number, bigint> = { 0: 1_700_000_000_500_000_000n, 7: 3_600_250_000_000n };
  clockNs(clockId: number): bigint {
    return this.clocks[clockId] ?? -22n;
  }
  bpfObjectKind(fd: number): BpfObjectKind | undefined {
    if (this.fds.has(fd)) return 'map';
    if (this.progFds.has(fd)) return 'prog';
    if (this.linkFds.has(fd)) return 'link';
    return this.btfFds.has(fd) ? 'btf' : undefined;
  }
  uname() {
    return { sysname: 'Linux', release: '6.18.0-fake', version: '#1 SMP', machine: 'x86_64' };
  }
  numPossibleCpus(): number {
    return this.ncpu;
  }
}
