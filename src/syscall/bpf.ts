// bpf(2) commands with typed attr builders. Each attr is sized to the end of the last field the
// command uses (zero-filled), so older kernels see no unknown non-zero bytes. test/abi.test.ts
// checks every offset and size here against union bpf_attr in the running kernel's BTF.
// One file on purpose (over 500 lines; LONG_FILES in test/architecture.test.ts): the command
// table and one short builder per command, all over the same attr writer; test/abi.test.ts
// checks them together.
import { type BpfObjectKind, type SyscallBackend, sys } from './backend.js';
import { BeeTsError } from '../errors.js';
import { BpfError, EAGAIN, EINTR, ENOENT } from './errno.js';
import { Fd } from './fd.js';

export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_ATTACH: 8,
  PROG_DETACH: 9,
  PROG_TEST_RUN: 10,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  PROG_QUERY: 16,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  BTF_GET_FD_BY_ID: 19,
  TASK_FD_QUERY: 20,
  MAP_LOOKUP_AND_DELETE_ELEM: 21,
  MAP_FREEZE: 22,
  BTF_GET_NEXT_ID: 23,
  MAP_LOOKUP_BATCH: 24,
  MAP_LOOKUP_AND_DELETE_BATCH: 25,
  MAP_UPDATE_BATCH: 26,
  MAP_DELETE_BATCH: 27,
  LINK_CREATE: 28,
  LINK_UPDATE: 29,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  ITER_CREATE: 33,
  LINK_DETACH: 34,
  PROG_BIND_MAP: 35,
  TOKEN_CREATE: 36,
  PROG_STREAM_READ_BY_FD: 37,
} as const;

const CMD_NAMES = new Map<number, string>(Object.entries(Cmd).map(([k, v]) => [v, `BPF_${k}`]));
export const cmdName = (cmd: number) => CMD_NAMES.get(cmd) ?? `bpf cmd ${cmd}`;

/** Last-field ends (bytes) per command. */
const ATTR_SIZE = {
  MAP_CREATE: 72, // ... map_extra
  ELEM: 32, // map_fd, key, value/next_key, flags
  FREEZE: 4,
  BATCH: 56, // ... flags
  PROG_LOAD: 144, // ... log_true_size
  OBJ: 16, // pathname, bpf_fd, file_flags (path_fd unused)
  PROG_ATTACH: 20, // ... replace_bpf_fd
  TEST_RUN: 80, // ... batch_size (+pad)
  ID: 12, // start_id/id, next_id, open_flags
  INFO: 16,
  RAW_TP: 16,
  BTF_LOAD: 32, // ... btf_log_true_size
  LINK_CREATE: 64,
  LINK_DETACH: 4,
  ITER_CREATE: 8, // link_fd, flags
  ENABLE_STATS: 4,
  BIND_MAP: 12,
  QUERY: 64, // ... revision
  TASK_FD_QUERY: 48, // pid, fd, flags, buf_len, buf, prog_id, fd_type, probe_offset, probe_addr
} as const;

export const BPF_OBJ_NAME_LEN = 16;

/** Raw call: returns the result or throws a BpfError naming the command and subject. */
export function bpfCall(cmd: number, attr: Uint8Array, size: number, subject?: string): number {
  for (let attempt = 0; ; attempt++) {
    const r = sys().bpf(cmd, attr, size);
    if (r >= 0) return r;
    if ((-r === EINTR || (-r === EAGAIN && cmd === Cmd.PROG_LOAD)) && attempt < 5) continue;
    throw new BpfError(cmdName(cmd), -r, subject);
  }
}

/** Like bpfCall but returns -errno instead of throwing. */
export function bpfTry(cmd: number, attr: Uint8Array, size: number): number {
  for (let attempt = 0; ; attempt++) {
    const r = sys().bpf(cmd, attr, size);
    if (r >= 0 || !(-r === EINTR && attempt < 5)) return r;
  }
}

export class Attr {
  readonly buf: Buffer;
  readonly dv: DataView;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, size);
  }
  u32(off: number, v: number): this {
    this.dv.setUint32(off, v >>> 0, true);
    return this;
  }
  s32(off: number, v: number): this {
    this.dv.setInt32(off, v, true);
    return this;
  }
  u64(off: number, v: bigint | number): this {
    // Small non-negative numbers (flags, counts) without a BigInt.
    if (typeof v === 'number' && v >= 0 && v <= 0xffffffff) {
      this.dv.setUint32(off, v, true);
      this.dv.setUint32(off + 4, 0, true);
    } else this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  ptr(off: number, b: Uint8Array | null | undefined): this {
    this.dv.setBigUint64(off, b ? sys().addressOf(b) : 0n, true);
    return this;
  }
  name(off: number, s: string): this {
    this.buf.write(s.slice(0, BPF_OBJ_NAME_LEN - 1), off, 'latin1');
    return this;
  }
  get32(off: number): number {
    return this.dv.getUint32(off, true);
  }
}

/** Kernel object names: at most 15 characters of [A-Za-z0-9_.]. */
export function objName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, BPF_OBJ_NAME_LEN - 1);
}

/** NUL-terminated copy for pointers to strings. */
export function cstr(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

// ---- maps ----

export interface MapCreateAttr {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  innerMapFd?: number;
  numaNode?: number;
  name?: string;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
}

export function mapCreate(a: MapCreateAttr, subject?: string): Fd {
  const attr = new Attr(ATTR_SIZE.MAP_CREATE)
    .u32(0, a.type)
    .u32(4, a.keySize)
    .u32(8, a.valueSize)
    .u32(12, a.maxEntries)
    .u32(16, a.flags ?? 0)
    .u32(20, a.innerMapFd ?? 0)
    .u32(24, a.numaNode ?? 0)
    .u32(44, a.ifindex ?? 0)
    .u32(48, a.btfFd ?? 0)
    .u32(52, a.btfKeyTypeId ?? 0)
    .u32(56, a.btfValueTypeId ?? 0)
    .u32(60, a.btfVmlinuxValueTypeId ?? 0)
    .u64(64, a.mapExtra ?? 0n);
  if (a.name) attr.name(28, objName(a.name));
  return new Fd(bpfCall(Cmd.MAP_CREATE, attr.buf, ATTR_SIZE.MAP_CREATE, subject ?? (a.name ? `map '${a.name}'` : undefined)), `map ${a.name ?? ''}`.trim());
}

/**
 * Keys (and update values) of at most this many bytes, in a buffer other than the one of the call
 * before, are copied into the attr's own buffer (a few stores) rather than pointed at: taking a
 * buffer's address is a native call that moves its bytes off the V8 heap, then a BigInt. A buffer
 * passed twice in a row is pointed at, and its later calls cost nothing.
 */
const COPY_MAX = 64;

/** `src`'s bytes in `own` when it has their length, else in a new buffer; returns the one written. */
function copyInto(own: Uint8Array | null, src: Uint8Array): Uint8Array {
  const c = own !== null && own.length === src.length ? own : new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) c[i] = src[i]!;
  return c;
}

/** A reusable attr for element operations on one map (the hot path: no allocation per call). */
export class ElemAttr {
  readonly attr = new Attr(ATTR_SIZE.ELEM);
  // The buffers whose addresses attr holds now: a map reuses the same scratch buffers, so their
  // addresses are written once, not per call (koffi.address + a BigInt each). Holding them keeps
  // them alive, and a buffer whose address was taken has an off-heap backing store that never moves.
  #key: Uint8Array | null = null;
  #value: Uint8Array | null = null;
  /** The backend's bpf() for this attr with its address taken once, when it has one. */
  #issue: ((cmd: number) => number) | null = null;
  #backend: SyscallBackend | null = null;
  #flags: number | bigint = 0;
  /** The attr's own key and value buffers (see COPY_MAX), and the arguments last copied into them. */
  #keyCopy: Uint8Array | null = null;
  #keyArg: Uint8Array | null = null;
  #valueCopy: Uint8Array | null = null;
  #valueArg: Uint8Array | null = null;
  constructor(mapFd: number) {
    this.attr.u32(0, mapFd);
  }
  /**
   * Returns 0 or -errno. The path of a call with the buffers, flags and backend of the last one is
   * a few compares and the backend's call: small enough for the JIT to inline into BpfMap's
   * element methods (each call frame left between the loop and the syscall costs a mispredicted
   * return after it); anything that changed is set up out of line first.
   */
  call(cmd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number | bigint = 0): number {
    if (key !== this.#key || value !== this.#value || flags !== this.#flags || sys() !== this.#backend) this.#point(cmd, key, value, flags);
    const issue = this.#issue;
    if (issue !== null) {
      const r = issue(cmd);
      if (r !== -EINTR) return r;
    }
    return bpfTry(cmd, this.attr.buf, ATTR_SIZE.ELEM);
  }
  #point(cmd: number, key: Uint8Array | null, value: Uint8Array | null, flags: number | bigint): void {
    const a = this.attr;
    // The backend first: the addresses below are its own.
    const b = sys();
    if (b !== this.#backend) {
      this.#backend = b;
      this.#issue = b.bpfFixed?.(a.buf, ATTR_SIZE.ELEM) ?? null;
      this.#key = this.#value = this.#keyArg = this.#valueArg = null;
      a.ptr(8, null).ptr(16, null);
    }
    if (key !== this.#key) {
      // Every element command only reads its key.
      if (key !== null && key.length <= COPY_MAX && key !== this.#keyArg) {
        this.#keyArg = key;
        key = this.#keyCopy = copyInto(this.#keyCopy, key);
      }
      if (key !== this.#key) {
        a.ptr(8, key);
        this.#key = key;
      }
    }
    if (value !== this.#value) {
      // Only an update's value is read (a lookup's is written).
      if (cmd === Cmd.MAP_UPDATE_ELEM && value !== null && value.length <= COPY_MAX && value !== this.#valueArg) {
        this.#valueArg = value;
        value = this.#valueCopy = copyInto(this.#valueCopy, value);
      }
      if (value !== this.#value) {
        a.ptr(16, value);
        this.#value = value;
      }
    }
    // Flags as written last time (almost always 0) are not rewritten.
    if (flags !== this.#flags) {
      a.u64(24, flags);
      this.#flags = flags;
    }
  }
}

export function mapFreeze(mapFd: number, subject?: string): void {
  bpfCall(Cmd.MAP_FREEZE, new Attr(ATTR_SIZE.FREEZE).u32(0, mapFd).buf, ATTR_SIZE.FREEZE, subject);
}

export interface BatchResult {
  count: number;
  /** -errno; ENOENT means the walk reached the end. */
  err: number;
}

export function mapBatch(
  cmd: number,
  mapFd: number,
  inBatch: Uint8Array | null,
  outBatch: Uint8Array | null,
  keys: Uint8Array,
  values: Uint8Array | null,
  count: number,
  elemFlags = 0,
): BatchResult {
  const attr = new Attr(ATTR_SIZE.BATCH)
    .ptr(0, inBatch)
    .ptr(8, outBatch)
    .ptr(16, keys)
    .ptr(24, values)
    .u32(32, count)
    .u32(36, mapFd)
    .u64(40, elemFlags);
  const r = bpfTry(cmd, attr.buf, ATTR_SIZE.BATCH);
  return { count: attr.get32(32), err: r < 0 ? r : 0 };
}

// ---- programs ----

export interface ProgLoadAttr {
  type: number;
  insns: Uint8Array;
  license: string;
  logLevel?: number;
  logBuf?: Uint8Array;
  kernVersion?: number;
  flags?: number;
  name?: string;
  ifindex?: number;
  expectedAttachType?: number;
  btfFd?: number;
  funcInfoRecSize?: number;
  funcInfo?: Uint8Array;
  funcInfoCnt?: number;
  lineInfoRecSize?: number;
  lineInfo?: Uint8Array;
  lineInfoCnt?: number;
  attachBtfId?: number;
  attachBtfObjFd?: number;
  fdArray?: Uint8Array;
}

/** PROG_LOAD; returns the fd or -errno (the caller decides how to report, with the log). */
export function progLoadRaw(a: ProgLoadAttr): { fd: number; logTrueSize: number } {
  const license = cstr(a.license);
  const attr = new Attr(ATTR_SIZE.PROG_LOAD)
    .u32(0, a.type)
    .u32(4, a.insns.length / 8)
    .ptr(8, a.insns)
    .ptr(16, license)
    .u32(24, a.logLevel ?? 0)
    .u32(28, a.logBuf ? a.logBuf.length : 0)
    .ptr(32, a.logBuf ?? null)
    .u32(40, a.kernVersion ?? 0)
    .u32(44, a.flags ?? 0)
    .u32(64, a.ifindex ?? 0)
    .u32(68, a.expectedAttachType ?? 0)
    .u32(72, a.btfFd ?? 0)
    .u32(76, a.funcInfoRecSize ?? 0)
    .ptr(80, a.funcInfo ?? null)
    .u32(88, a.funcInfoCnt ?? 0)
    .u32(92, a.lineInfoRecSize ?? 0)
    .ptr(96, a.lineInfo ?? null)
    .u32(104, a.lineInfoCnt ?? 0)
    .u32(108, a.attachBtfId ?? 0)
    .u32(112, a.attachBtfObjFd ?? 0)
    .ptr(120, a.fdArray ?? null);
  if (a.name) attr.name(48, objName(a.name));
  let r = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    r = sys().bpf(Cmd.PROG_LOAD, attr.buf, ATTR_SIZE.PROG_LOAD);
    if (r >= 0 || (-r !== EAGAIN && -r !== EINTR)) break;
  }
  // Keep buffers alive until here: the kernel read them during the call.
  void license;
  return { fd: r, logTrueSize: attr.get32(140) };
}

export function objPin(fd: number, path: string, subject?: string): void {
  const p = cstr(path);
  bpfCall(Cmd.OBJ_PIN, new Attr(ATTR_SIZE.OBJ).ptr(0, p).u32(8, fd).buf, ATTR_SIZE.OBJ, subject ?? path);
}

export const BPF_F_RDONLY_FLAG = 1 << 3;

/**
 * BPF_OBJ_GET. With `expect`, the pinned object must be of that kind (a map pinned where a
 * program is expected is refused before anything reads it as one): bpftool's
 * open_obj_pinned_any() check and message.
 */
export function objGet(path: string, fileFlags = 0, what = 'pinned object', expect?: BpfObjectKind): Fd {
  const p = cstr(path);
  const fd = new Fd(bpfCall(Cmd.OBJ_GET, new Attr(ATTR_SIZE.OBJ).ptr(0, p).u32(12, fileFlags).buf, ATTR_SIZE.OBJ, path), what);
  if (expect) {
    const kind = sys().bpfObjectKind(fd.value);
    if (kind !== expect) {
      fd.close();
      throw new PinnedTypeError(path, expect, kind);
    }
  }
  return fd;
}

/** A pin holds another kind of BPF object than the command needs. */
export class PinnedTypeError extends BeeTsError {
  constructor(
    readonly path: string,
    readonly expected: BpfObjectKind,
    readonly actual: BpfObjectKind | undefined,
  ) {
    super('PINNED_TYPE', `${path}: incorrect object type: ${actual ?? 'unknown'} (expected a pinned ${expected})`);
  }
}

export function progAttach(targetFd: number, progFd: number, attachType: number, flags = 0, subject?: string): void {
  const a = new Attr(ATTR_SIZE.PROG_ATTACH).u32(0, targetFd).u32(4, progFd).u32(8, attachType).u32(12, flags);
  bpfCall(Cmd.PROG_ATTACH, a.buf, ATTR_SIZE.PROG_ATTACH, subject);
}

export function progDetach(targetFd: number, progFd: number, attachType: number): number {
  const a = new Attr(ATTR_SIZE.PROG_ATTACH).u32(0, targetFd).u32(4, progFd).u32(8, attachType);
  return bpfTry(Cmd.PROG_DETACH, a.buf, ATTR_SIZE.PROG_ATTACH);
}

export interface TestRunOpts {
  dataIn?: Uint8Array;
  dataOut?: Uint8Array;
  ctxIn?: Uint8Array;
  ctxOut?: Uint8Array;
  repeat?: number;
  flags?: number;
  cpu?: number;
}

export function progTestRun(progFd: number, o: TestRunOpts = {}, subject?: string): { retval: number; duration: number; dataSizeOut: number; ctxSizeOut: number } {
  const a = new Attr(ATTR_SIZE.TEST_RUN)
    .u32(0, progFd)
    .u32(8, o.dataIn?.length ?? 0)
    .u32(12, o.dataOut?.length ?? 0)
    .ptr(16, o.dataIn)
    .ptr(24, o.dataOut)
    .u32(32, o.repeat ?? 0)
    .u32(40, o.ctxIn?.length ?? 0)
    .u32(44, o.ctxOut?.length ?? 0)
    .ptr(48, o.ctxIn)
    .ptr(56, o.ctxOut)
    .u32(64, o.flags ?? 0)
    .u32(68, o.cpu ?? 0);
  bpfCall(Cmd.PROG_TEST_RUN, a.buf, ATTR_SIZE.TEST_RUN, subject);
  return { retval: a.dv.getInt32(4, true), duration: a.get32(36), dataSizeOut: a.get32(12), ctxSizeOut: a.get32(44) };
}

// ---- ids and info ----

export type ObjKind = 'prog' | 'map' | 'btf' | 'link';
const NEXT_ID: Record<ObjKind, number> = { prog: Cmd.PROG_GET_NEXT_ID, map: Cmd.MAP_GET_NEXT_ID, btf: Cmd.BTF_GET_NEXT_ID, link: Cmd.LINK_GET_NEXT_ID };
const FD_BY_ID: Record<ObjKind, number> = { prog: Cmd.PROG_GET_FD_BY_ID, map: Cmd.MAP_GET_FD_BY_ID, btf: Cmd.BTF_GET_FD_BY_ID, link: Cmd.LINK_GET_FD_BY_ID };

/** All ids of a kind, ascending (GET_NEXT_ID from 0 until ENOENT). */
export function listIds(kind: ObjKind): number[] {
  const ids: number[] = [];
  const a = new Attr(ATTR_SIZE.ID);
  let start = 0;
  for (;;) {
    a.u32(0, start);
    const r = bpfTry(NEXT_ID[kind], a.buf, ATTR_SIZE.ID);
    if (r < 0) {
      if (-r === ENOENT) return ids;
      throw new BpfError(cmdName(NEXT_ID[kind]), -r, `listing ${kind} ids`);
    }
    start = a.get32(4);
    ids.push(start);
  }
}

export function fdById(kind: ObjKind, id: number): Fd {
  const a = new Attr(ATTR_SIZE.ID).u32(0, id);
  return new Fd(bpfCall(FD_BY_ID[kind], a.buf, ATTR_SIZE.ID, `${kind} id ${id}`), `${kind} ${id}`);
}

/** OBJ_GET_INFO_BY_FD into `info` (zeroed first: the kernel echoes fields it does not set). */
export function objInfo(fd: number, info: Uint8Array, subject?: string): number {
  const a = new Attr(ATTR_SIZE.INFO).u32(0, fd).u32(4, info.length).ptr(8, info);
  bpfCall(Cmd.OBJ_GET_INFO_BY_FD, a.buf, ATTR_SIZE.INFO, subject);
  return a.get32(4);
}

// ---- attach ----

export function rawTracepointOpen(name: string | null, progFd: number, subject?: string): Fd {
  const n = name === null ? null : cstr(name);
  const a = new Attr(ATTR_SIZE.RAW_TP).ptr(0, n).u32(8, progFd);
  return new Fd(bpfCall(Cmd.RAW_TRACEPOINT_OPEN, a.buf, ATTR_SIZE.RAW_TP, subject ?? `raw tracepoint ${name}`), `raw_tp ${name}`);
}

export interface LinkCreateAttr {
  progFd: number;
  targetFd: number;
  attachType: number;
  flags?: number;
  /** Writes the command-specific union (starting at byte 16). */
  extra?: (a: Attr) => void;
}

export function linkCreate(l: LinkCreateAttr, subject?: string): Fd {
  const a = new Attr(ATTR_SIZE.LINK_CREATE).u32(0, l.progFd).u32(4, l.targetFd).u32(8, l.attachType).u32(12, l.flags ?? 0);
  l.extra?.(a);
  return new Fd(bpfCall(Cmd.LINK_CREATE, a.buf, ATTR_SIZE.LINK_CREATE, subject), 'link');
}

export interface ProgQueryResult {
  progIds: number[];
  /** Link ids beside the programs (TCX and other mprog attach points, 6.6+; else zeros). */
  linkIds: number[];
  attachFlags: number;
}

/**
 * BPF_PROG_QUERY: the programs attached to a target (cgroup fd, netns fd, or an ifindex for TCX)
 * for one attach type. Asks for up to `max` ids.
 */
export function progQuery(target: number, attachType: number, subject: string, max = 64, queryFlags = 0, withLinks = false): ProgQueryResult {
  const progIds = new Uint32Array(max);
  const linkIds = new Uint32Array(max);
  const a = new Attr(ATTR_SIZE.QUERY).u32(0, target).u32(4, attachType).u32(8, queryFlags).ptr(16, new Uint8Array(progIds.buffer)).u32(24, max);
  // Link ids only where asked (TCX): cgroup queries stay the shape bpftool sends.
  if (withLinks) a.ptr(40, new Uint8Array(linkIds.buffer));
  bpfCall(Cmd.PROG_QUERY, a.buf, ATTR_SIZE.QUERY, subject);
  const n = Math.min(a.get32(24), max);
  return { progIds: [...progIds.subarray(0, n)], linkIds: [...linkIds.subarray(0, n)], attachFlags: a.get32(12) };
}

/** BPF_ITER_CREATE: a new read session (an fd to read(2) until it returns 0) of an iterator link. */
export function iterCreate(linkFd: number, subject?: string): Fd {
  const a = new Attr(ATTR_SIZE.ITER_CREATE).u32(0, linkFd);
  return new Fd(bpfCall(Cmd.ITER_CREATE, a.buf, ATTR_SIZE.ITER_CREATE, subject), 'iter');
}

export function linkDetach(linkFd: number): number {
  return bpfTry(Cmd.LINK_DETACH, new Attr(ATTR_SIZE.LINK_DETACH).u32(0, linkFd).buf, ATTR_SIZE.LINK_DETACH);
}

export function enableStats(type = 0): Fd {
  return new Fd(bpfCall(Cmd.ENABLE_STATS, new Attr(ATTR_SIZE.ENABLE_STATS).u32(0, type).buf, ATTR_SIZE.ENABLE_STATS), 'stats');
}

export function progBindMap(progFd: number, mapFd: number): number {
  return bpfTry(Cmd.PROG_BIND_MAP, new Attr(ATTR_SIZE.BIND_MAP).u32(0, progFd).u32(4, mapFd).buf, ATTR_SIZE.BIND_MAP);
}

// ---- BTF ----

/** BTF_LOAD; returns the fd or -errno, with the log written into logBuf when given. */
export function btfLoadRaw(btf: Uint8Array, logBuf?: Uint8Array, logLevel = 0): number {
  const a = new Attr(ATTR_SIZE.BTF_LOAD)
    .ptr(0, btf)
    .ptr(8, logBuf ?? null)
    .u32(16, btf.length)
    .u32(20, logBuf?.length ?? 0)
    .u32(24, logBuf ? logLevel || 1 : 0);
  return bpfTry(Cmd.BTF_LOAD, a.buf, ATTR_SIZE.BTF_LOAD);
}

export interface TaskFdQuery {
  progId: number;
  /** BPF_FD_TYPE_*: 0 raw_tracepoint, 1 tracepoint, 2 kprobe, 3 kretprobe, 4 uprobe, 5 uretprobe. */
  fdType: number;
  /** Tracepoint or function name, or the uprobe's file (NUL-terminated in the kernel's buffer). */
  name: string;
  probeOffset: bigint;
  probeAddr: bigint;
}

/** BPF_TASK_FD_QUERY: what BPF program (pid, fd) holds attached to a perf event or raw tracepoint; undefined if none. */
export function taskFdQuery(pid: number, fd: number): TaskFdQuery | undefined {
  const buf = new Uint8Array(4096);
  const a = new Attr(ATTR_SIZE.TASK_FD_QUERY).u32(0, pid).u32(4, fd).u32(8, 0).u32(12, buf.length).ptr(16, buf);
  const r = bpfTry(Cmd.TASK_FD_QUERY, a.buf, ATTR_SIZE.TASK_FD_QUERY);
  if (r < 0) return undefined;
  const len = Math.min(a.get32(12), buf.length);
  const end = buf.subarray(0, len).indexOf(0);
  return {
    progId: a.get32(24),
    fdType: a.get32(28),
    name: Buffer.from(buf.subarray(0, end < 0 ? len : end)).toString('utf8'),
    probeOffset: a.dv.getBigUint64(32, true),
    probeAddr: a.dv.getBigUint64(40, true),
  };
}
