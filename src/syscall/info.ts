// OBJ_GET_INFO_BY_FD decoders for programs, maps, links and BTF objects. Layouts are the
// kernel's struct bpf_{prog,map,link,btf}_info (append-only ABI); test/abi.test.ts checks every
// offset decoded here, and each buffer size, against the running kernel's BTF.
import { BpfError, EPERM } from './errno.js';
import fs from 'node:fs';
import { CLOCK_BOOTTIME, CLOCK_REALTIME, sys } from './backend.js';
import { objInfo } from './bpf.js';

export const PROG_INFO_SIZE = 232;
export const MAP_INFO_SIZE = 104;
export const LINK_INFO_SIZE = 64;
export const BTF_INFO_SIZE = 32;

const cstring = (b: Uint8Array, off: number, len: number) => {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return Buffer.from(s.subarray(0, z < 0 ? len : z)).toString('latin1');
};

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  ifindex: number;
  btfVmlinuxValueTypeId: number;
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  mapExtra: bigint;
}

export function mapInfo(fd: number): MapInfo {
  const b = Buffer.alloc(MAP_INFO_SIZE);
  objInfo(fd, b, 'map info');
  return {
    type: b.readUInt32LE(0),
    id: b.readUInt32LE(4),
    keySize: b.readUInt32LE(8),
    valueSize: b.readUInt32LE(12),
    maxEntries: b.readUInt32LE(16),
    flags: b.readUInt32LE(20),
    name: cstring(b, 24, 16),
    ifindex: b.readUInt32LE(40),
    btfVmlinuxValueTypeId: b.readUInt32LE(44),
    btfId: b.readUInt32LE(64),
    btfKeyTypeId: b.readUInt32LE(68),
    btfValueTypeId: b.readUInt32LE(72),
    mapExtra: b.readBigUInt64LE(80),
  };
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  jitedProgLen: number;
  xlatedProgLen: number;
  /** ns since boot (CLOCK_BOOTTIME). */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  name: string;
  ifindex: number;
  gplCompatible: boolean;
  btfId: number;
  nrFuncInfo: number;
  nrLineInfo: number;
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  nrJitedKsyms: number;
  runTimeNs: bigint;
  runCnt: bigint;
  recursionMisses: bigint;
  verifiedInsns: number;
  attachBtfObjId: number;
  attachBtfId: number;
  /** The first func_info record's type id (for the full name of 15-char-truncated programs). */
  firstFuncTypeId?: number;
}

export function progInfo(fd: number, opts: { funcInfo?: boolean } = {}): ProgInfo {
  let b = Buffer.alloc(PROG_INFO_SIZE);
  objInfo(fd, b, 'program info');
  const nrMapIds = b.readUInt32LE(52);
  const nrFuncInfo = b.readUInt32LE(144);
  const funcInfoRecSize = b.readUInt32LE(132);
  let mapIds: number[] = [];
  let firstFuncTypeId: number | undefined;
  if (nrMapIds > 0 || (opts.funcInfo && nrFuncInfo > 0)) {
    // Second call with arrays sized from the first (only the arrays we ask for).
    const ids = Buffer.alloc(nrMapIds * 4);
    const fi = opts.funcInfo && nrFuncInfo > 0 ? Buffer.alloc(nrFuncInfo * funcInfoRecSize) : undefined;
    b = Buffer.alloc(PROG_INFO_SIZE);
    if (nrMapIds > 0) {
      b.writeUInt32LE(nrMapIds, 52);
      b.writeBigUInt64LE(sys().addressOf(ids), 56);
    }
    if (fi) {
      b.writeUInt32LE(funcInfoRecSize, 132);
      b.writeBigUInt64LE(sys().addressOf(fi), 136);
      b.writeUInt32LE(nrFuncInfo, 144);
    }
    objInfo(fd, b, 'program info');
    const n = Math.min(nrMapIds, b.readUInt32LE(52));
    for (let i = 0; i < n; i++) mapIds.push(ids.readUInt32LE(i * 4));
    if (fi) firstFuncTypeId = fi.readUInt32LE(4);
  }
  const tag = b.subarray(8, 16).toString('hex');
  return {
    type: b.readUInt32LE(0),
    id: b.readUInt32LE(4),
    tag,
    jitedProgLen: b.readUInt32LE(16),
    xlatedProgLen: b.readUInt32LE(20),
    loadTime: b.readBigUInt64LE(40),
    createdByUid: b.readUInt32LE(48),
    mapIds,
    name: cstring(b, 64, 16),
    ifindex: b.readUInt32LE(80),
    gplCompatible: (b.readUInt32LE(84) & 1) === 1,
    btfId: b.readUInt32LE(128),
    nrFuncInfo,
    nrLineInfo: b.readUInt32LE(148),
    funcInfoRecSize: b.readUInt32LE(132),
    lineInfoRecSize: b.readUInt32LE(172),
    nrJitedKsyms: b.readUInt32LE(104),
    runTimeNs: b.readBigUInt64LE(192),
    runCnt: b.readBigUInt64LE(200),
    recursionMisses: b.readBigUInt64LE(208),
    verifiedInsns: b.readUInt32LE(216),
    attachBtfObjId: b.readUInt32LE(220),
    attachBtfId: b.readUInt32LE(224),
    firstFuncTypeId,
  };
}

export interface BtfInfo {
  id: number;
  size: number;
  name: string;
  kernelBtf: boolean;
}

export function btfInfo(fd: number, withData = false): BtfInfo & { data?: Buffer } {
  const b = Buffer.alloc(BTF_INFO_SIZE);
  const name = Buffer.alloc(64);
  b.writeBigUInt64LE(sys().addressOf(name), 16);
  b.writeUInt32LE(name.length, 24);
  objInfo(fd, b, 'BTF info');
  const size = b.readUInt32LE(8);
  let data: Buffer | undefined;
  if (withData) {
    data = Buffer.alloc(size);
    const b2 = Buffer.alloc(BTF_INFO_SIZE);
    b2.writeBigUInt64LE(sys().addressOf(data), 0);
    b2.writeUInt32LE(size, 8);
    objInfo(fd, b2, 'BTF data');
  }
  return { id: b.readUInt32LE(12), size, name: cstring(name, 0, 64), kernelBtf: b.readUInt32LE(28) !== 0, data };
}

export interface LinkInfo {
  type: number;
  id: number;
  progId: number;
  /** Raw type-specific union (48 bytes) for callers that know the type. */
  raw: Buffer;
  details: Record<string, unknown>;
}

/** bpf_link_info, with the type-specific union decoded for the common link types. */
export function linkInfo(fd: number): LinkInfo {
  const name = Buffer.alloc(256);
  let b = Buffer.alloc(LINK_INFO_SIZE);
  objInfo(fd, b, 'link info');
  const type = b.readUInt32LE(0);
  // Types carrying strings need a second call with a buffer for them.
  const namePtr = (ptrOff: number, lenOff: number) => {
    b = Buffer.alloc(LINK_INFO_SIZE);
    b.writeBigUInt64LE(sys().addressOf(name), ptrOff);
    b.writeUInt32LE(name.length, lenOff);
    objInfo(fd, b, 'link info');
  };
  const details: Record<string, unknown> = {};
  const u = 16;
  switch (type) {
    case 1: // raw_tracepoint
      namePtr(u, u + 8);
      details.tp_name = cstring(name, 0, 256);
      break;
    case 2: // tracing
      details.attach_type = b.readUInt32LE(u);
      details.target_obj_id = b.readUInt32LE(u + 4);
      details.target_btf_id = b.readUInt32LE(u + 8);
      break;
    case 3: // cgroup
      details.cgroup_id = Number(b.readBigUInt64LE(u));
      details.attach_type = b.readUInt32LE(u + 8);
      break;
    case 5: // netns
      details.netns_ino = b.readUInt32LE(u);
      details.attach_type = b.readUInt32LE(u + 4);
      break;
    case 6: // xdp
      details.ifindex = b.readUInt32LE(u);
      break;
    case 7: {
      // perf_event: kind at u, then a per-kind union at u+8
      const kind = b.readUInt32LE(u);
      if (kind === 1 || kind === 2 || kind === 3 || kind === 4 || kind === 5) {
        namePtr(u + 8, u + 16);
        const ev = ['', 'uprobe', 'uretprobe', 'kprobe', 'kretprobe', 'tracepoint'][kind]!;
        details.event_type = ev;
        if (kind <= 2) {
          details.file = cstring(name, 0, 256);
          details.offset = b.readUInt32LE(u + 20);
        } else if (kind <= 4) {
          details.func = cstring(name, 0, 256);
          details.offset = b.readUInt32LE(u + 20);
          details.addr = Number(b.readBigUInt64LE(u + 24));
          details.missed = Number(b.readBigUInt64LE(u + 32));
        } else details.tracepoint = cstring(name, 0, 256);
      } else if (kind === 6) {
        details.event_type = 'event';
        details.config = Number(b.readBigUInt64LE(u + 8));
        details.type = b.readUInt32LE(u + 16);
      }
      break;
    }
    case 11: // tcx
    case 13: // netkit
      details.ifindex = b.readUInt32LE(u);
      details.attach_type = b.readUInt32LE(u + 4);
      break;
    default:
      break;
  }
  return { type, id: b.readUInt32LE(4), progId: b.readUInt32LE(8), raw: b.subarray(16), details };
}


/** /proc/self/fdinfo/<fd>, once per object (a map's listing reads several of its fields); undefined when it cannot be read. */
export function fdinfoText(fd: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** A `field:` line's value from fdinfo text (fdinfoText), trimmed; undefined when it has none. `field` is a name of ours, not input. */
export function fdinfoField(text: string | undefined, field: string): string | undefined {
  if (text === undefined) return undefined;
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
}

/** `memlock:` from fdinfo text (bpftool's bytes_memlock). */
export function fdinfoMemlock(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^memlock:\s*(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** What a BPF fd refers to, from the keys of /proc/self/fdinfo/<fd>; undefined for anything else. */
export function fdinfoKind(fd: number): 'prog' | 'map' | 'link' | undefined {
  const text = fdinfoText(fd);
  if (text === undefined) return undefined;
  if (/^link_type:/m.test(text)) return 'link';
  if (/^prog_type:/m.test(text)) return 'prog';
  if (/^map_type:/m.test(text)) return 'map';
  return undefined;
}

/**
 * Wall-clock seconds for a CLOCK_BOOTTIME ns timestamp (bpftool's loaded_at), computed as
 * bpftool's print_boot_time does: CLOCK_REALTIME minus CLOCK_BOOTTIME plus the stamp, in whole ns,
 * then truncated. (/proc/uptime's 10 ms steps moved the result across a second now and then.)
 */
export function bootTimeToEpoch(ns: bigint): number {
  const b = sys();
  const real = b.clockNs(CLOCK_REALTIME);
  const boot = b.clockNs(CLOCK_BOOTTIME);
  if (real < 0n || boot < 0n) return Number(ns / 1_000_000_000n); // bpftool prints the raw seconds then
  return Number((real - boot + ns) / 1_000_000_000n);
}

export interface LineInfoRec {
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  col: number;
}

/** What `prog dump xlated` needs: the translated instructions and the debug info that names them. */
export interface ProgXlated {
  info: ProgInfo;
  insns: Uint8Array;
  jitedKsyms: bigint[];
  funcInfo: { insnOff: number; typeId: number }[];
  lineInfo: LineInfoRec[];
}

/**
 * What `prog dump jited` needs: the JIT image (all functions back to back, `funcLens` bytes each,
 * starting at `jitedKsyms`), the functions' BTF records and, per line_info record, the address of
 * its first machine instruction (`jitedLineInfo`, libbpf's bpf_prog_linfo input).
 */
export interface ProgJited {
  info: ProgInfo;
  image: Uint8Array;
  jitedKsyms: bigint[];
  funcLens: number[];
  funcInfo: { insnOff: number; typeId: number }[];
  lineInfo: LineInfoRec[];
  jitedLineInfo: bigint[];
}

export function progXlated(fd: number): ProgXlated {
  const d = progArrays(fd, 'xlated');
  if (d.info.xlatedProgLen && d.code.length > 0 && d.code.every((x) => x === 0))
    throw new BpfError('BPF_OBJ_GET_INFO_BY_FD', EPERM, 'program info', 'the kernel hid the translated instructions (kernel.kptr_restrict / bpf_dump_raw_ok): run as root');
  return { info: d.info, insns: d.code, jitedKsyms: d.jitedKsyms, funcInfo: d.funcInfo, lineInfo: d.lineInfo };
}

export function progJited(fd: number): ProgJited {
  const d = progArrays(fd, 'jited');
  if (d.info.jitedProgLen && d.code.length > 0 && d.code.every((x) => x === 0))
    throw new BpfError('BPF_OBJ_GET_INFO_BY_FD', EPERM, 'program info', 'the kernel hid the JIT image (kernel.kptr_restrict / bpf_dump_raw_ok): run as root');
  return { info: d.info, image: d.code, jitedKsyms: d.jitedKsyms, funcLens: d.funcLens, funcInfo: d.funcInfo, lineInfo: d.lineInfo, jitedLineInfo: d.jitedLineInfo };
}

/** Limit on any array the kernel reports (a program is at most 1M instructions). */
const MAX_ARRAY_BYTES = 64 << 20;

function progArrays(fd: number, code: 'xlated' | 'jited') {
  // The sizes of every array come from a first call; one more call fills the arrays.
  const first = Buffer.alloc(PROG_INFO_SIZE);
  objInfo(fd, first, 'program info');
  const u32 = (b: Buffer, off: number) => b.readUInt32LE(off);
  const codeLenOff = code === 'xlated' ? 20 : 16;
  const codeLen = u32(first, codeLenOff);
  const nrKsyms = u32(first, 104);
  const nrLens = code === 'jited' ? u32(first, 108) : 0;
  const fiSize = u32(first, 132);
  const nrFi = u32(first, 144);
  const nrLi = u32(first, 148);
  const liSize = u32(first, 172);
  const nrJli = code === 'jited' ? u32(first, 168) : 0;
  const jliSize = code === 'jited' ? u32(first, 176) : 0;
  const alloc = (n: number, what: string) => {
    if (n > MAX_ARRAY_BYTES) throw new BpfError('BPF_OBJ_GET_INFO_BY_FD', EPERM, 'program info', `the kernel reported ${n} bytes of ${what}, more than bee-ts reads (${MAX_ARRAY_BYTES})`);
    return Buffer.alloc(n);
  };
  const codeBuf = alloc(codeLen, `${code} code`);
  const ksyms = alloc(nrKsyms * 8, 'jited_ksyms');
  const lens = alloc(nrLens * 4, 'jited_func_lens');
  const fi = alloc(nrFi * fiSize, 'func_info');
  const li = alloc(nrLi * liSize, 'line_info');
  const jli = alloc(nrJli * jliSize, 'jited_line_info');
  const b = Buffer.alloc(PROG_INFO_SIZE);
  const a = (buf: Buffer) => sys().addressOf(buf);
  b.writeUInt32LE(codeLen, codeLenOff);
  if (codeLen) b.writeBigUInt64LE(a(codeBuf), code === 'xlated' ? 32 : 24);
  b.writeUInt32LE(nrKsyms, 104);
  if (nrKsyms) b.writeBigUInt64LE(a(ksyms), 112);
  b.writeUInt32LE(nrLens, 108);
  if (nrLens) b.writeBigUInt64LE(a(lens), 120);
  b.writeUInt32LE(fiSize, 132);
  if (nrFi) b.writeBigUInt64LE(a(fi), 136);
  b.writeUInt32LE(nrFi, 144);
  b.writeUInt32LE(nrLi, 148);
  if (nrLi) b.writeBigUInt64LE(a(li), 152);
  b.writeUInt32LE(liSize, 172);
  if (nrJli) {
    b.writeBigUInt64LE(a(jli), 160);
    b.writeUInt32LE(nrJli, 168);
    b.writeUInt32LE(jliSize, 176);
  }
  objInfo(fd, b, 'program info');
  const info = progInfo(fd);
  // The program cannot change, but never read past what was allocated.
  const got = Math.min(codeLen, u32(b, codeLenOff));
  const funcInfo: { insnOff: number; typeId: number }[] = [];
  for (let i = 0; i < Math.min(nrFi, u32(b, 144)); i++) funcInfo.push({ insnOff: fi.readUInt32LE(i * fiSize), typeId: fi.readUInt32LE(i * fiSize + 4) });
  const lineInfo: LineInfoRec[] = [];
  for (let i = 0; i < Math.min(nrLi, u32(b, 148)); i++) {
    const o = i * liSize;
    const lc = li.readUInt32LE(o + 12);
    lineInfo.push({ insnOff: li.readUInt32LE(o), fileNameOff: li.readUInt32LE(o + 4), lineOff: li.readUInt32LE(o + 8), line: lc >>> 10, col: lc & 0x3ff });
  }
  const jitedKsyms: bigint[] = [];
  for (let i = 0; i < Math.min(nrKsyms, u32(b, 104)); i++) jitedKsyms.push(ksyms.readBigUInt64LE(i * 8));
  const funcLens: number[] = [];
  for (let i = 0; i < Math.min(nrLens, code === 'jited' ? u32(b, 108) : 0); i++) funcLens.push(lens.readUInt32LE(i * 4));
  const jitedLineInfo: bigint[] = [];
  if (jliSize >= 8) for (let i = 0; i < Math.min(nrJli, u32(b, 168)); i++) jitedLineInfo.push(jli.readBigUInt64LE(i * jliSize));
  return { info, code: codeBuf.subarray(0, got), jitedKsyms, funcLens, funcInfo, lineInfo, jitedLineInfo };
}
