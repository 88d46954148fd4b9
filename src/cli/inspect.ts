// bpftool-like inspection: prog/map/btf/link list and show, map dump/lookup/update/delete/
// getnext/pin. Plain output follows bpftool's layout; --json keys follow `bpftool -j` so scripts
// can switch between the two.
import fs from 'node:fs';
import { type Btf, parseBtf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { compileCodec, type Codec } from '../maps/codec.js';
import { BpfMap, encodeInto } from '../maps/map.js';
import { Cmd, ElemAttr, fdById, linkDetach, listIds, mapCreate, objGet, objPin, progTestRun } from '../syscall/bpf.js';
import { attachTypeName, BPF_ANY, BPF_EXIST, BPF_NOEXIST, linkTypeName, MapType, mapTypeName, ProgType, progTypeName } from '../syscall/constants.js';
import { BpfError, ENOENT, EOPNOTSUPP, errnoMessage } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { bootTimeToEpoch, btfInfo, fdinfoMemlock, linkInfo, mapInfo, type MapInfo, progInfo, type ProgInfo } from '../syscall/info.js';
import { readInputFile } from '../syscall/files.js';
import { CliExit, UsageError } from './errors.js';
import { globals, hashmapOrder, jsonText } from './format.js';
import { keyword } from './argv.js';
import { pinnedPaths } from './pins.js';

export { CliExit };


const out = (s: string) => process.stdout.write(s);

const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
const hexArray = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);

function fdinfoField(fd: number, field: string): string | undefined {
  try {
    const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m?.[1]?.trim();
  } catch {
    return undefined;
  }
}

function localIso(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
}

// ---- BTF by id (cached per process) ----

const btfCache = new Map<number, Btf>();
export function btfById(id: number): Btf | undefined {
  if (!id) return undefined;
  const hit = btfCache.get(id);
  if (hit) return hit;
  const fd = fdById('btf', id);
  try {
    const info = btfInfo(fd.value, true);
    // Module BTF is split on top of vmlinux.
    const base = info.kernelBtf && info.name !== 'vmlinux' ? vmlinuxBtf() : undefined;
    const btf = parseBtf(info.data!, { file: `btf id ${id}`, base });
    btfCache.set(id, btf);
    return btf;
  } finally {
    fd.close();
  }
}

// ---- selecting objects: id N | pinned PATH | name NAME (| tag HEX for programs) ----

export function parseSelector(args: string[], kind: 'prog' | 'map' | 'link' | 'btf'): { how: string; what: string; rest: string[] } {
  const [word, what, ...rest] = args;
  // bpftool's order (its prefixes: `i 5`, `p /sys/fs/bpf/x`).
  const allowed = kind === 'prog' ? ['id', 'tag', 'name', 'pinned'] : kind === 'map' ? ['id', 'name', 'pinned'] : kind === 'link' ? ['id', 'pinned'] : ['id'];
  const how = keyword(word, allowed);
  if (!how || what === undefined)
    throw new UsageError(`expected ${kind.toUpperCase()} as ${allowed.map((a) => `${a} ${a === 'id' ? 'N' : a === 'pinned' ? 'PATH' : a === 'tag' ? 'HEX' : 'NAME'}`).join(' | ')}`);
  if (how === 'id' && !/^\d+$/.test(what)) throw new UsageError(`bad ${kind} id '${what}'`);
  return { how, what, rest };
}

export function openProgs(sel: { how: string; what: string }): Fd[] {
  if (sel.how === 'id') return [fdById('prog', Number(sel.what))];
  if (sel.how === 'pinned') return [objGet(sel.what, 0, `prog ${sel.what}`, 'prog')];
  const fds = openMatching('prog', (fd) => {
    const info = progInfo(fd.value, { funcInfo: true });
    return sel.how === 'tag' ? info.tag === sel.what.toLowerCase() : fullProgName(info) === sel.what || info.name === sel.what;
  });
  if (fds.length === 0) throw new CliExit(`can't find program by ${sel.how} '${sel.what}'`);
  return fds;
}

export function openMap(sel: { how: string; what: string }): Fd {
  if (sel.how === 'id') return fdById('map', Number(sel.what));
  if (sel.how === 'pinned') return objGet(sel.what, 0, `map ${sel.what}`, 'map');
  const found = openMatching('map', (fd) => mapInfo(fd.value).name === sel.what);
  if (found.length === 0) throw new CliExit(`can't find map by name '${sel.what}'`);
  if (found.length > 1) {
    for (const f of found) f.close();
    throw new CliExit(`several maps match name '${sel.what}': use 'id N'`);
  }
  return found[0]!;
}

// ---- programs ----

/** bpftool prints the BTF function name when the kernel's 15-char name is truncated. */
function fullProgName(info: ProgInfo): string {
  if (info.name.length === 15 && info.btfId && info.firstFuncTypeId) {
    try {
      const btf = btfById(info.btfId);
      const n = btf?.types[info.firstFuncTypeId]?.name;
      if (n && n.startsWith(info.name)) return n;
    } catch {
      /* keep the kernel's name */
    }
  }
  return info.name;
}

/** -f/--bpffs: pinned paths by id, or undefined without -f (looked up once per command). */
const pinsCache: Partial<Record<'prog' | 'map' | 'link', Map<number, string[]>>> = {};
function pinsOf(kind: 'prog' | 'map' | 'link', id: number, o: Record<string, unknown>): void {
  if (!globals.bpffs) return;
  const pins = (pinsCache[kind] ??= pinnedPaths(kind));
  // bpftool: a "pinned" key (maybe empty) whenever anything of this kind is pinned at all.
  if (pins.size) o.pinned = pins.get(id) ?? [];
}
const pinnedLines = (o: Record<string, unknown>) => ((o.pinned as string[] | undefined) ?? []).map((p) => `\tpinned ${p}\n`).join('');

export function progJson(fd: number): Record<string, unknown> {
  const info = progInfo(fd, { funcInfo: true });
  const o: Record<string, unknown> = { id: info.id, type: progTypeName(info.type) };
  const name = fullProgName(info);
  if (name) o.name = name;
  o.tag = info.tag;
  o.gpl_compatible = info.gplCompatible;
  if (info.runTimeNs !== 0n) {
    o.run_time_ns = info.runTimeNs;
    o.run_cnt = info.runCnt;
  }
  if (info.recursionMisses !== 0n) o.recursion_misses = info.recursionMisses;
  o.loaded_at = bootTimeToEpoch(info.loadTime);
  o.uid = info.createdByUid;
  o.bytes_xlated = info.xlatedProgLen;
  o.jited = info.jitedProgLen > 0;
  if (info.jitedProgLen > 0) o.bytes_jited = info.jitedProgLen;
  const memlock = fdinfoMemlock(fd);
  if (memlock !== undefined) o.bytes_memlock = memlock;
  if (info.mapIds.length) o.map_ids = info.mapIds;
  if (info.btfId) o.btf_id = info.btfId;
  pinsOf('prog', info.id, o);
  const md = progMetadata(info.mapIds);
  if (md) o.metadata = md;
  return o;
}

/**
 * bpftool's `metadata`: the bpf_metadata_* variables of the program's first .rodata map (an
 * array of one element with a BTF DATASEC value), by name without the prefix, formatted with BTF.
 */
function progMetadata(mapIds: number[]): Record<string, unknown> | undefined {
  for (const id of mapIds) {
    let fd: Fd;
    try {
      fd = fdById('map', id);
    } catch {
      return undefined; // as bpftool: a map gone meanwhile ends the search
    }
    try {
      const info = mapInfo(fd.value);
      if (info.type !== MapType.ARRAY || info.keySize !== 4 || info.maxEntries !== 1 || !info.btfValueTypeId || !info.name.includes('.rodata')) continue;
      const value = new Uint8Array(info.valueSize);
      if (new ElemAttr(fd.value).call(Cmd.MAP_LOOKUP_ELEM, new Uint8Array(4), value) < 0) return undefined;
      let btf: Btf | undefined;
      try {
        btf = btfById(info.btfId);
      } catch {
        return undefined;
      }
      const sec = btf?.types[info.btfValueTypeId];
      if (!btf || sec?.kind !== BtfKind.Datasec) return undefined;
      const md: Record<string, unknown> = {};
      let any = false;
      for (const v of sec.vars) {
        const t = btf.types[v.type];
        if (t?.kind !== BtfKind.Var || !t.name.startsWith('bpf_metadata_')) continue;
        any = true;
        try {
          md[t.name.slice('bpf_metadata_'.length)] = compileCodec(btf, t.type, { bpftoolChars: true }).decode(new DataView(value.buffer, v.offset, v.size), 0);
        } catch {
          md[t.name.slice('bpf_metadata_'.length)] = hexArray(value.subarray(v.offset, v.offset + v.size));
        }
      }
      return any ? md : undefined;
    } finally {
      fd.close();
    }
  }
  return undefined;
}

export function progText(o: Record<string, unknown>): string {
  let s = `${o.id}: ${o.type}  `;
  if (o.name) s += `name ${o.name}  `;
  s += `tag ${o.tag}`;
  if (o.gpl_compatible) s += '  gpl';
  if (o.run_time_ns !== undefined) s += ` run_time_ns ${o.run_time_ns} run_cnt ${o.run_cnt}`;
  if (o.recursion_misses !== undefined) s += ` recursion_misses ${o.recursion_misses}`;
  s += `\n\tloaded_at ${localIso(o.loaded_at as number)}  uid ${o.uid}\n`;
  s += `\txlated ${o.bytes_xlated}B  ${o.jited ? `jited ${o.bytes_jited}B` : 'not jited'}`;
  if (o.bytes_memlock !== undefined) s += `  memlock ${o.bytes_memlock}B`;
  if (o.map_ids) s += `  map_ids ${(o.map_ids as number[]).join(',')}`;
  s += '\n' + pinnedLines(o);
  if (o.btf_id) s += `\tbtf_id ${o.btf_id}\n`;
  if (o.metadata) s += `\tmetadata:${Object.entries(o.metadata as Record<string, unknown>).map(([k, v]) => `\n\t\t${k} = ${jsonText(v, false)}`).join('')}\n`;
  return s;
}

/** An fd for every object of a kind, in id order (objects can vanish between GET_NEXT_ID and GET_FD_BY_ID). */
function* openAll(kind: 'prog' | 'map' | 'link' | 'btf'): Generator<Fd> {
  for (const id of listIds(kind)) {
    try {
      yield fdById(kind, id);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) continue;
      throw e;
    }
  }
}

/** Open fds of the objects that match (the caller closes them). */
function openMatching(kind: 'prog' | 'map', match: (fd: Fd) => boolean): Fd[] {
  const out: Fd[] = [];
  for (const fd of openAll(kind)) {
    if (match(fd)) out.push(fd);
    else fd.close();
  }
  return out;
}

function eachId(kind: 'prog' | 'map' | 'link' | 'btf', f: (fd: Fd) => void): void {
  for (const fd of openAll(kind)) {
    try {
      f(fd);
    } finally {
      fd.close();
    }
  }
}

export function progShow(args: string[], json: boolean): void {
  const objs: Record<string, unknown>[] = [];
  if (args.length === 0) eachId('prog', (fd) => objs.push(progJson(fd.value)));
  else {
    const sel = parseSelector(args, 'prog');
    for (const fd of openProgs(sel)) {
      try {
        objs.push(progJson(fd.value));
      } finally {
        fd.close();
      }
    }
    if (json && objs.length === 1) return void out(jsonText(objs[0]) + '\n');
  }
  out(json ? jsonText(objs) + '\n' : objs.map(progText).join(''));
}

export function progPin(args: string[]): void {
  const sel = parseSelector(args, 'prog');
  const path = sel.rest[0];
  if (!path) throw new UsageError('prog pin PROG FILE: missing FILE');
  const fds = openProgs(sel);
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    objPin(fds[0]!.value, path);
  } finally {
    for (const f of fds) f.close();
  }
}

/** prog dump xlated PROG [opcodes | linum | visual | file FILE]: bpftool's forms (one option at a time, like bpftool 7.1). */
export async function progDumpXlated(args: string[], json: boolean): Promise<void> {
  const sel = parseSelector(args, 'prog');
  const rest = sel.rest;
  let file: string | undefined;
  const opts: { opcodes?: boolean; linum?: boolean } = {};
  if (rest[0] !== undefined) rest[0] = keyword(rest[0], ['file', 'opcodes', 'visual', 'linum']) ?? rest[0];
  if (rest[0] === 'file') {
    if (!rest[1] || rest.length > 2) throw new UsageError('prog dump xlated PROG file FILE');
    file = rest[1];
  } else {
    if (rest.length > 1) throw new UsageError(`prog dump xlated: one of opcodes, linum (got '${rest.join(' ')}')`);
    if (rest[0] === 'opcodes') opts.opcodes = true;
    else if (rest[0] === 'linum') opts.linum = true;
    else if (rest[0] === 'visual') throw new UsageError('prog dump xlated ... visual (a DOT graph) is not supported by bee-ts');
    else if (rest[0] !== undefined) throw new UsageError(`prog dump xlated: unknown option '${rest[0]}' (opcodes | linum | file FILE)`);
  }
  const { progXlated } = await import('../syscall/info.js');
  const x = await import('./xlated.js');
  const fds = openProgs(sel);
  try {
    const out: string[] = [];
    const jsonOut: unknown[] = [];
    for (const fd of fds) {
      const d = progXlated(fd.value);
      if (file) {
        fs.writeFileSync(file, d.insns);
        continue;
      }
      let btf: Btf | undefined;
      try {
        btf = d.info.btfId ? btfById(d.info.btfId) : undefined;
      } catch {
        btf = undefined; // BTF gone or unreadable: no prototypes or source lines
      }
      if (json) jsonOut.push(x.xlatedJson(d, btf, opts));
      else out.push(x.xlatedText(d, btf, opts));
    }
    if (file) return;
    process.stdout.write(json ? jsonText(fds.length === 1 ? jsonOut[0] : jsonOut) + '\n' : out.join('\n'));
  } finally {
    for (const f of fds) f.close();
  }
}

/**
 * bpftool-style `keyword value...` words: each known keyword is followed by `arity[keyword]`
 * words (inner_map takes a selector, `id N`), and may appear once.
 */
function keywordArgs(cmd: string, words: string[], arity: Record<string, number>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < words.length; ) {
    const k = words[i]!;
    const n = arity[k];
    if (n === undefined) throw new UsageError(`${cmd}: unknown keyword '${k}' (${Object.keys(arity).join(', ')})`);
    if (i + n >= words.length) throw new UsageError(`${cmd}: ${k} needs a value`);
    if (k in out) throw new UsageError(`${cmd}: ${k} given twice`);
    out[k] = words.slice(i + 1, i + 1 + n);
    i += 1 + n;
  }
  return out;
}

/**
 * prog run PROG [data_in FILE [data_out FILE [data_size_out L]]] [ctx_in FILE [ctx_out FILE
 * [ctx_size_out M]]] [repeat N]: BPF_PROG_TEST_RUN, bpftool's syntax and output. Unlike bpftool
 * 7.1 (which always sends repeat 1), repeat stays 0 unless given, so syscall and raw_tp programs
 * run too. FILE may be '-' (stdin for inputs, stdout for outputs).
 */
export function progRun(args: string[], json: boolean): void {
  const sel = parseSelector(args, 'prog');
  const words = keywordArgs('prog run', sel.rest, { data_in: 1, data_out: 1, data_size_out: 1, ctx_in: 1, ctx_out: 1, ctx_size_out: 1, repeat: 1 });
  const kw = Object.fromEntries(Object.entries(words).map(([k, v]) => [k, v[0]!])) as Record<string, string>;
  const readIn = (f: string) => (f === '-' ? fs.readFileSync(0) : readInputFile(f, 'prog run input file'));
  const num = (k: string, dflt: number) => {
    if (kw[k] === undefined) return dflt;
    if (!/^\d+$/.test(kw[k]!)) throw new UsageError(`prog run: ${k} '${kw[k]}' is not a number`);
    return Number(kw[k]);
  };
  const dataIn = kw.data_in !== undefined ? readIn(kw.data_in) : undefined;
  const ctxIn = kw.ctx_in !== undefined ? readIn(kw.ctx_in) : undefined;
  // Output buffers: as large as asked, else room for what came in plus headroom (XDP may grow it).
  const dataOut = kw.data_out !== undefined ? Buffer.alloc(num('data_size_out', Math.max(dataIn?.length ?? 0, 0) + 4096)) : undefined;
  const ctxOut = kw.ctx_out !== undefined ? Buffer.alloc(num('ctx_size_out', Math.max(ctxIn?.length ?? 0, 256))) : undefined;
  const fds = openProgs(sel);
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    // A syscall program's context comes back in the input buffer; the kernel refuses ctx_out there.
    const syscallProg = progInfo(fds[0]!.value).type === ProgType.SYSCALL;
    const r = progTestRun(fds[0]!.value, { dataIn, dataOut, ctxIn, ctxOut: syscallProg ? undefined : ctxOut, repeat: num('repeat', 0) }, 'failed to run program');
    const write = (f: string, b: Buffer) => (f === '-' ? process.stdout.write(b) : fs.writeFileSync(f, b));
    if (dataOut) write(kw.data_out!, dataOut.subarray(0, r.dataSizeOut));
    if (ctxOut) write(kw.ctx_out!, syscallProg ? ctxIn ?? Buffer.alloc(0) : ctxOut.subarray(0, r.ctxSizeOut));
    if (json) process.stdout.write(jsonText({ retval: r.retval, duration: r.duration }) + '\n');
    else process.stdout.write(`Return value: ${r.retval >>> 0}, duration${num('repeat', 0) > 1 ? ' (average)' : ''}: ${r.duration}ns\n`);
  } finally {
    for (const f of fds) f.close();
  }
}

// ---- maps ----

export function mapJson(fd: number, info: MapInfo = mapInfo(fd)): Record<string, unknown> {
  const o: Record<string, unknown> = { id: info.id, type: mapTypeName(info.type) };
  if (info.name) o.name = info.name;
  o.flags = info.flags;
  o.bytes_key = info.keySize;
  o.bytes_value = info.valueSize;
  o.max_entries = info.maxEntries;
  const memlock = fdinfoMemlock(fd);
  if (memlock !== undefined) o.bytes_memlock = memlock;
  if (info.type === MapType.PROG_ARRAY) {
    // The program type a prog array is bound to once a program uses it (fdinfo, like bpftool).
    const owner = fdinfoField(fd, 'owner_prog_type');
    const jited = fdinfoField(fd, 'owner_jited');
    if (owner !== undefined) o.owner_prog_type = progTypeName(Number(owner));
    if (jited !== undefined) o.owner_jited = Number(jited) !== 0;
  }
  o.frozen = Number(fdinfoField(fd, 'frozen') ?? 0);
  if (info.btfId) o.btf_id = info.btfId;
  pinsOf('map', info.id, o);
  return o;
}

export function mapText(o: Record<string, unknown>): string {
  let s = `${o.id}: ${o.type}  `;
  if (o.name) s += `name ${o.name}  `;
  s += `flags 0x${(o.flags as number).toString(16)}\n`;
  s += `\tkey ${o.bytes_key}B  value ${o.bytes_value}B  max_entries ${o.max_entries}`;
  if (o.bytes_memlock !== undefined) s += `  memlock ${o.bytes_memlock}B`;
  if (o.owner_prog_type !== undefined || o.owner_jited !== undefined) {
    s += '\n\t';
    if (o.owner_prog_type !== undefined) s += `owner_prog_type ${o.owner_prog_type}  `;
    if (o.owner_jited !== undefined) s += `owner${o.owner_jited ? '' : ' not'} jited`;
  }
  s += '\n' + pinnedLines(o);
  // bpftool appends "frozen" to the btf_id line when there is one.
  if (o.btf_id) s += `\tbtf_id ${o.btf_id}${o.frozen ? '  frozen' : ''}\n`;
  else if (o.frozen) s += '\tfrozen\n';
  return s;
}

export function mapShow(args: string[], json: boolean): void {
  if (args.length === 0) {
    const objs: Record<string, unknown>[] = [];
    eachId('map', (fd) => objs.push(mapJson(fd.value)));
    out(json ? jsonText(objs) + '\n' : objs.map(mapText).join(''));
    return;
  }
  const fd = openMap(parseSelector(args, 'map'));
  try {
    const o = mapJson(fd.value);
    out(json ? jsonText(o) + '\n' : mapText(o));
  } finally {
    fd.close();
  }
}

export interface OpenedMap {
  fd: Fd;
  info: MapInfo;
  map: BpfMap;
  btf?: Btf;
  keyCodec?: Codec;
  valueCodec?: Codec;
}

export function openMapWithBtf(sel: { how: string; what: string }): OpenedMap {
  const fd = openMap(sel);
  const info = mapInfo(fd.value);
  let btf: Btf | undefined;
  try {
    btf = btfById(info.btfId);
  } catch {
    btf = undefined;
  }
  const map = new BpfMap(fd, { name: info.name, type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries, flags: info.flags }, {
    btf,
    keyTypeId: info.btfKeyTypeId,
    valueTypeId: info.btfValueTypeId,
  });
  const codec = (id: number) => {
    if (!btf || !id) return undefined;
    try {
      return compileCodec(btf, id, { bpftoolChars: true });
    } catch {
      return undefined;
    }
  };
  return { fd, info, map, btf, keyCodec: codec(info.btfKeyTypeId), valueCodec: codec(info.btfValueTypeId) };
}

function decode(c: Codec | undefined, b: Uint8Array): unknown {
  if (!c) return undefined;
  return c.decode(new DataView(b.buffer, b.byteOffset, b.byteLength), 0);
}

/** bpftool shows a DATASEC value as {"<section>": [{"var": value}, ...]}. */
function decodeValue(m: OpenedMap, b: Uint8Array): unknown {
  const v = decode(m.valueCodec, b);
  const t = m.btf && m.info.btfValueTypeId ? m.btf.types[m.info.btfValueTypeId] : undefined;
  if (t?.kind === BtfKind.Datasec && v && typeof v === 'object') return { [t.name]: Object.entries(v).map(([k, x]) => ({ [k]: x })) };
  return v;
}

const stride = (m: OpenedMap) => Math.ceil(m.info.valueSize / 8) * 8;
const perCpu = <T>(m: OpenedMap, v: Uint8Array, f: (b: Uint8Array) => T) =>
  Array.from({ length: m.map.ncpu }, (_, cpu) => ({ cpu, value: f(v.subarray(cpu * stride(m), cpu * stride(m) + m.info.valueSize)) }));

/** bpftool's print_entry_json: hex bytes ("values" per CPU), plus "formatted" when the map has BTF. */
function elementJson(m: OpenedMap, k: Uint8Array, v: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = { key: hexArray(k) };
  if (m.map.percpu) o.values = perCpu(m, v, hexArray);
  else o.value = hexArray(v);
  if (m.valueCodec || m.keyCodec) o.formatted = pretty(m, k, v);
  return o;
}

/** bpftool's do_dump_btf: the BTF-formatted element; a key without BTF is left out. */
function pretty(m: OpenedMap, k: Uint8Array, v: Uint8Array): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (m.keyCodec) o.key = decode(m.keyCodec, k);
  if (m.map.percpu) o.values = perCpu(m, v, (b) => (m.valueCodec ? decode(m.valueCodec, b) : hexArray(b)));
  else o.value = m.valueCodec ? decodeValue(m, v) : hexArray(v);
  return o;
}

/** bpftool's print_entry_plain: one line when key and value fit, else each on its own line. */
function entryPlain(m: OpenedMap, k: Uint8Array, v: Uint8Array): string {
  const { keySize, valueSize } = m.info;
  if (m.map.percpu) {
    let s = keySize ? `key:\n${hexBytes(k)}\n` : '';
    if (valueSize) for (const { cpu, value } of perCpu(m, v, hexBytes)) s += `value (CPU ${String(cpu).padStart(2, '0')}):${valueSize > 16 ? '\n' : ' '}${value}\n`;
    return s;
  }
  const breakNames = keySize > 16 || valueSize > 16;
  const single = keySize + valueSize <= 24 && !breakNames;
  let s = '';
  if (keySize) s += `key:${breakNames ? '\n' : ' '}${hexBytes(k)}${single ? '  ' : '\n'}`;
  if (valueSize) s += `value:${breakNames ? '\n' : ' '}${hexBytes(v)}`;
  return s + '\n';
}

/** bpftool's print_entry_error_msg (plain) for a key whose lookup failed. */
function entryErrorPlain(m: OpenedMap, k: Uint8Array, msg: string): string {
  const breakNames = m.info.keySize > 16 || msg.length > 16;
  const single = m.info.keySize + msg.length <= 24 && !breakNames;
  return `key:${breakNames ? '\n' : ' '}${hexBytes(k)}${single ? '  ' : '\n'}value:${breakNames ? '\n' : ' '}${msg}\n`;
}

/** BTF-formatted element as bpftool's plain (pretty) writer prints it at the top level. */
function elementPretty(m: OpenedMap, k: Uint8Array, v: Uint8Array): string {
  return jsonText(pretty(m, k, v), true);
}

const isFdMap = (t: number) => t === MapType.PROG_ARRAY || t === MapType.ARRAY_OF_MAPS || t === MapType.HASH_OF_MAPS;

/**
 * map dump MAP, as bpftool: walk the keys, look each up, print it as it comes (JSON, BTF-pretty or
 * hex). A key whose lookup fails prints its error in place (perf event arrays: every key) and is
 * not counted; an empty slot of a prog array or map-in-map is skipped.
 */
export function mapDump(args: string[], json: boolean): void {
  const m = openMapWithBtf(parseSelector(args, 'map'));
  try {
    const btfMode = !!(m.keyCodec || m.valueCodec);
    const jsonEntries: string[] = [];
    let plain = '';
    let pretties = 0;
    let found = 0;
    if (!json && btfMode) plain += '[';
    const elem = new ElemAttr(m.fd.value);
    const key = new Uint8Array(Math.max(m.info.keySize, 1));
    const value = new Uint8Array(Math.max(m.map.valueBufSize, 1));
    let prev: Uint8Array | null = null;
    let failure: string | undefined;
    for (let n = 0; ; n++) {
      if (n > m.info.maxEntries + 1024) break; // a hash map rehashing under us: bounded like bpftool's walk is not
      const r = elem.call(Cmd.MAP_GET_NEXT_KEY, prev, key);
      if (r < 0) {
        if (-r !== ENOENT) failure = `can't get next key: ${errText(-r)}`;
        break;
      }
      const k = key.slice(0, m.info.keySize);
      const lr = elem.call(Cmd.MAP_LOOKUP_ELEM, key, value);
      if (lr < 0) {
        if (!(isFdMap(m.info.type) && -lr === ENOENT)) {
          if (json) jsonEntries.push(jsonText({ key: hexArray(k), value: { error: strerror(-lr) } }, globals.pretty, 1));
          else plain += entryErrorPlain(m, k, -lr === ENOENT ? '<no entry>' : strerror(-lr));
        }
      } else {
        found++;
        const v = value.slice(0, m.map.valueBufSize);
        if (json) jsonEntries.push(jsonText(elementJson(m, k, v), globals.pretty, 1));
        else if (btfMode) plain += (pretties++ ? ',' : '') + jsonText(pretty(m, k, v), true, 1);
        else plain += entryPlain(m, k, v);
      }
      prev = key.slice();
    }
    if (json) out(`[${jsonEntries.join(',')}${jsonEntries.length && globals.pretty ? '\n' : ''}]\n`);
    else if (btfMode) out(plain + (pretties ? '\n]\n' : ']\n'));
    else out(plain + `Found ${found} element${found === 1 ? '' : 's'}\n`);
    if (failure && (m.info.type === MapType.RINGBUF || m.info.type === MapType.USER_RINGBUF)) failure += ' (a ring buffer has no keys to dump: read it with bee-ts run or the RingBufReader API)';
    if (failure) throw new CliExit(failure);
  } finally {
    m.fd.close();
  }
}

/**
 * Key/value words: bpftool's byte syntax (`1 0 0 0`, `hex 01 00`, `0x01` tokens), or one JSON
 * word (`'{"pid":1}'`, `42`, `"name"`) for maps with BTF.
 */
export function parseBytesOrJson(words: string[], size: number, codec: Codec | undefined, what: string): Uint8Array {
  const out = new Uint8Array(size);
  // One word is JSON only for a map with BTF (a typed, range-checked number, object, array or
  // string). Without BTF the words are bytes, counted as bpftool counts them: `value 1` on an
  // 8-byte value is refused, never zero-padded.
  const jsonLike = words.length === 1 && (codec ? size !== 1 || /^[[{"]/.test(words[0]!) : /^[[{"]/.test(words[0]!));
  if (jsonLike) {
    let v: unknown;
    try {
      v = JSON.parse(words[0]!);
    } catch {
      throw new UsageError(`${what}: '${words[0]}' is neither JSON nor ${size} bytes`);
    }
    if (!codec) throw new UsageError(`${what}: the map has no BTF for it; give ${size} bytes (e.g. ${what} ${Array(size).fill(0).join(' ')})`);
    try {
      encodeInto(v, out, size, codec, what);
    } catch (e) {
      throw new UsageError(`${what}: ${(e as Error).message}`);
    }
    return out;
  }
  let hex = false;
  const bytes: number[] = [];
  for (const w of words) {
    if (w === 'hex' || (bytes.length === 0 && !hex && w.length > 0 && 'hex'.startsWith(w) && !/^[0-9a-f]+$/i.test(w))) {
      hex = true;
      continue;
    }
    const n = hex ? parseInt(w, 16) : w.startsWith('0x') ? parseInt(w.slice(2), 16) : Number(w);
    if (!Number.isInteger(n) || n < 0 || n > 255 || (hex && !/^[0-9a-f]{1,2}$/i.test(w))) throw new UsageError(`${what}: '${w}' is not a byte`);
    bytes.push(n);
  }
  // bpftool's parse_bytes() message.
  if (bytes.length !== size) throw new UsageError(`${what} expected ${size} bytes got ${bytes.length}`);
  out.set(bytes);
  return out;
}

/** Split `key ... value ... [flag]` words. */
function splitKeyValue(rest: string[]): { key?: string[]; value?: string[]; flag?: string } {
  const r: { key?: string[]; value?: string[]; flag?: string } = {};
  let cur: string[] | undefined;
  // bpftool's prefixes (`k 0 0 0 0 v 1 0 0 0`), except for words that read as data (a hex byte: 'e', 'a').
  const choices = ['key', 'value', 'any', 'exist', 'noexist'];
  const dataLike = (w: string) => /^(0x)?[0-9a-f]{1,2}$/i.test(w) || /^[[{"\d-]/.test(w);
  for (const word of rest) {
    const w = choices.includes(word) || dataLike(word) ? word : (keyword(word, choices) ?? word);
    if (w === 'key') cur = r.key = [];
    else if (w === 'value') cur = r.value = [];
    else if ((w === 'any' || w === 'exist' || w === 'noexist') && r.value) {
      r.flag = w;
      cur = undefined;
    } else if (cur) cur.push(word);
    else throw new UsageError(`unexpected '${word}'`);
  }
  return r;
}

/** bpftool's print_key_value: JSON, BTF-pretty, or its plain hex layout. */
export function keyValueText(m: OpenedMap, k: Uint8Array, v: Uint8Array, json: boolean): string {
  if (json) return jsonText(elementJson(m, k, v)) + '\n';
  if (m.keyCodec || m.valueCodec) return elementPretty(m, k, v) + '\n';
  return entryPlain(m, k, v);
}

/** map lookup MAP key DATA (map peek MAP: queues and stacks have no key). */
export function mapLookup(args: string[], json: boolean, cmd = 'lookup'): void {
  const sel = parseSelector(args, 'map');
  const { key, value } = splitKeyValue(sel.rest);
  if (value) throw new UsageError(`map ${cmd}: unnecessary value`);
  if (!key && cmd === 'lookup') throw new UsageError('map lookup MAP key DATA');
  const m = openMapWithBtf(sel);
  try {
    if (key && !m.info.keySize) throw new UsageError(`map ${cmd}: unnecessary key (a ${mapTypeName(m.info.type)} map has none)`);
    if (!key && m.info.keySize) throw new UsageError(`map ${cmd} MAP key DATA: did not find key`);
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : new Uint8Array(0);
    const v = new Uint8Array(Math.max(m.map.valueBufSize, 1));
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_LOOKUP_ELEM, key ? k : null, v);
    if (r < 0) {
      // bpftool: a miss prints null (JSON) or the key and "Not found", and fails.
      if (-r === ENOENT) throw new CliExit('', json ? jsonText(null) + '\n' : `key:\n${hexBytes(k)}\n\nNot found\n`);
      throw new CliExit(`lookup failed: ${errText(-r)}`);
    }
    out(keyValueText(m, k, v.subarray(0, m.map.valueBufSize), json));
  } finally {
    m.fd.close();
  }
}

/** map update MAP key DATA value VALUE [flags] (map push|enqueue MAP value VALUE: no key). */
export function mapUpdate(args: string[], cmd = 'update'): void {
  const sel = parseSelector(args, 'map');
  const { key, value, flag } = splitKeyValue(sel.rest);
  if (!value || (!key && cmd === 'update')) throw new UsageError(cmd === 'update' ? 'map update MAP key DATA value VALUE [UPDATE_FLAGS]' : `map ${cmd} MAP value VALUE`);
  const m = openMapWithBtf(sel);
  try {
    if (key && !m.info.keySize) throw new UsageError(`map ${cmd}: unnecessary key (a ${mapTypeName(m.info.type)} map has none)`);
    if (!key && m.info.keySize) throw new UsageError(`map ${cmd} MAP key DATA value VALUE: did not find key`);
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : null;
    let v: Uint8Array;
    if (m.map.percpu) {
      // One value for every CPU, like bpftool.
      const one = parseBytesOrJson(value, m.info.valueSize, m.valueCodec, 'value');
      const stride = Math.ceil(m.info.valueSize / 8) * 8;
      v = new Uint8Array(m.map.valueBufSize);
      for (let c = 0; c < m.map.ncpu; c++) v.set(one, c * stride);
    } else if (m.info.type === MapType.PROG_ARRAY || m.info.type === MapType.ARRAY_OF_MAPS || m.info.type === MapType.HASH_OF_MAPS) {
      v = resolveFdValue(value, m.info.type === MapType.PROG_ARRAY ? 'prog' : 'map');
    } else v = parseBytesOrJson(value, m.info.valueSize, m.valueCodec, 'value');
    const flags = flag === 'exist' ? BPF_EXIST : flag === 'noexist' ? BPF_NOEXIST : BPF_ANY;
    const elem = new ElemAttr(m.fd.value);
    const r = elem.call(Cmd.MAP_UPDATE_ELEM, k, v, flags);
    if (r < 0) throw new CliExit(`update failed: ${errText(-r)}`);
    if (globals.json) out(jsonText(null) + '\n'); // bpftool -j prints null on success
  } finally {
    m.fd.close();
  }
}

/** `value id N` / `value pinned PATH` for prog arrays and map-in-map: the kernel wants an fd. */
function resolveFdValue(words: string[], kind: 'prog' | 'map'): Uint8Array {
  const sel = parseSelector(words, kind);
  const fd = kind === 'prog' ? openProgs(sel)[0]! : openMap(sel);
  // The fd must stay open until the update: leak it into the process (exits right after).
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, fd.value, true);
  return b;
}

export function errText(errno: number): string {
  return errnoMessage(errno);
}

/** glibc's strerror, which bpftool prints: the kernel-internal errnos (512-530) are unknown to it. */
const strerror = (errno: number) => (errno >= 512 && errno <= 530 ? `Unknown error ${errno}` : errnoMessage(errno));

export function mapDelete(args: string[]): void {
  const sel = parseSelector(args, 'map');
  const { key } = splitKeyValue(sel.rest);
  if (!key) throw new UsageError('map delete MAP key DATA');
  const m = openMapWithBtf(sel);
  try {
    const k = parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key');
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_DELETE_ELEM, k, null);
    if (r < 0) throw new CliExit(`delete failed: ${errText(-r)}`);
  } finally {
    m.fd.close();
  }
}

export function mapGetNext(args: string[], json: boolean): void {
  const sel = parseSelector(args, 'map');
  const { key } = splitKeyValue(sel.rest);
  const m = openMapWithBtf(sel);
  try {
    const k = key ? parseBytesOrJson(key, m.info.keySize, m.keyCodec, 'key') : null;
    const next = new Uint8Array(m.info.keySize);
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_GET_NEXT_KEY, k, next);
    if (r < 0) throw new CliExit(`can't get next key: ${errText(-r)}`);
    if (json) out(jsonText({ key: k ? hexArray(k) : null, next_key: hexArray(next) }) + '\n');
    else out(`key:${k ? `\n${hexBytes(k)}` : ' None'}\nnext key:\n${hexBytes(next)}\n`);
  } finally {
    m.fd.close();
  }
}

/**
 * map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F]
 * [inner_map MAP]: bpftool's syntax; the map is pinned at FILE (nothing else holds it).
 */
export function mapCreateCmd(args: string[]): void {
  const [file, ...rest] = args;
  if (!file) throw new UsageError('map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries N name NAME [flags F] [inner_map MAP]');
  const words = keywordArgs('map create', rest, { type: 1, key: 1, value: 1, entries: 1, name: 1, flags: 1, inner_map: 2 });
  const kw = Object.fromEntries(Object.entries(words).map(([k, v]) => [k, v[0]!])) as Record<string, string>;
  let inner: Fd | undefined;
  try {
    if (words.inner_map) inner = openMap(parseSelector(words.inner_map, 'map'));
    for (const k of ['type', 'key', 'value', 'entries', 'name']) if (kw[k] === undefined) throw new UsageError(`map create: '${k}' is required`);
    const type = (MapType as Record<string, number>)[kw.type!.toUpperCase()];
    if (type === undefined) throw new UsageError(`map create: unknown map type '${kw.type}' (e.g. hash, array, percpu_hash, lru_hash, ringbuf)`);
    const n = (k: string) => {
      const v = kw[k];
      if (v === undefined) return 0;
      if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new UsageError(`map create: ${k} '${v}' is not a number`);
      return Number(v);
    };
    const fd = mapCreate({ type, keySize: n('key'), valueSize: n('value'), maxEntries: n('entries'), flags: n('flags'), name: kw.name, innerMapFd: inner?.value }, `map create ${kw.name}`);
    try {
      objPin(fd.value, file, `pin map at ${file}`);
    } finally {
      fd.close();
    }
  } finally {
    inner?.close();
  }
}

export function mapPin(args: string[]): void {
  const sel = parseSelector(args, 'map');
  const path = sel.rest[0];
  if (!path) throw new UsageError('map pin MAP FILE: missing FILE');
  const fd = openMap(sel);
  try {
    objPin(fd.value, path);
  } finally {
    fd.close();
  }
}

// ---- BTF objects ----

export function btfList(args: string[], json: boolean): void {
  let only: number | undefined;
  if (args.length) {
    const sel = parseSelector(args, 'btf');
    if (sel.rest.length) throw new UsageError(`btf show: unexpected '${sel.rest.join(' ')}' (btf show [id N])`);
    only = Number(sel.what);
    fdById('btf', only).close(); // bpftool's error for an id that does not exist
  }
  // prog_ids/map_ids are not in bpf_btf_info: group programs and maps by their btf_id, in
  // the order bpftool's hash table gives them.
  const progPairs: [number, number][] = [];
  const mapPairs: [number, number][] = [];
  eachId('prog', (fd) => {
    const i = progInfo(fd.value);
    if (i.btfId) progPairs.push([i.btfId, i.id]);
  });
  eachId('map', (fd) => {
    const i = mapInfo(fd.value);
    if (i.btfId) mapPairs.push([i.btfId, i.id]);
  });
  const progsBy = hashmapOrder(progPairs);
  const mapsBy = hashmapOrder(mapPairs);
  const objs: Record<string, unknown>[] = [];
  eachId('btf', (fd) => {
    const i = btfInfo(fd.value);
    if (only !== undefined && i.id !== only) return;
    const o: Record<string, unknown> = { id: i.id, size: i.size, prog_ids: progsBy.get(i.id) ?? [], map_ids: mapsBy.get(i.id) ?? [], kernel: i.kernelBtf };
    if (i.name) o.name = i.name;
    objs.push(o);
  });
  if (json) return void out(jsonText(only !== undefined ? objs[0] : objs) + '\n');
  for (const o of objs) {
    let s = `${o.id}: name ${o.name ? (o.kernel ? `[${o.name}]` : o.name) : '<anon>'}  size ${o.size}B`;
    if ((o.prog_ids as number[]).length) s += `  prog_ids ${(o.prog_ids as number[]).join(',')}`;
    if ((o.map_ids as number[]).length) s += `  map_ids ${(o.map_ids as number[]).join(',')}`;
    out(s + '\n');
  }
}

// ---- links ----

export function linkJson(fd: number): Record<string, unknown> {
  const i = linkInfo(fd);
  const o: Record<string, unknown> = { id: i.id, type: linkTypeName(i.type), prog_id: i.progId };
  const d = { ...i.details };
  if (typeof d.attach_type === 'number') d.attach_type = attachTypeName(d.attach_type);
  const r = { ...o, ...d };
  pinsOf('link', i.id, r);
  return r;
}

export function linkText(o: Record<string, unknown>): string {
  let s = `${o.id}: ${o.type}  prog ${o.prog_id}  \n`;
  const extra: string[] = [];
  if (o.tp_name !== undefined) extra.push(`tp '${o.tp_name}'`);
  if (o.cgroup_id !== undefined) extra.push(`cgroup_id ${o.cgroup_id}`);
  if (o.netns_ino !== undefined) extra.push(`netns_ino ${o.netns_ino}`);
  if (o.ifindex !== undefined) extra.push(`ifindex ${o.ifindex}`);
  if (o.attach_type !== undefined) extra.push(`attach_type ${o.attach_type}`);
  if (o.event_type !== undefined) extra.push(`event_type ${o.event_type}`);
  if (o.func !== undefined) extra.push(`func ${o.func}+${o.offset}`);
  if (o.file !== undefined) extra.push(`file ${o.file}+${o.offset}`);
  if (o.tracepoint !== undefined) extra.push(`tracepoint ${o.tracepoint}`);
  if (extra.length) s += `\t${extra.join('  ')}  \n`;
  return s + pinnedLines(o);
}

export function linkShow(args: string[], json: boolean): void {
  if (args.length === 0) {
    const objs: Record<string, unknown>[] = [];
    eachId('link', (fd) => objs.push(linkJson(fd.value)));
    out(json ? jsonText(objs) + '\n' : objs.map(linkText).join(''));
    return;
  }
  const sel = parseSelector(args, 'link');
  const fd = openLink(sel);
  try {
    const o = linkJson(fd.value);
    out(json ? jsonText(o) + '\n' : linkText(o));
  } finally {
    fd.close();
  }
}

function openLink(sel: { how: string; what: string }): Fd {
  return sel.how === 'id' ? fdById('link', Number(sel.what)) : objGet(sel.what, 0, `link ${sel.what}`, 'link');
}

/** link pin LINK FILE: keep a link (and its attachment) after every fd to it is closed. */
export function linkPin(args: string[]): void {
  const sel = parseSelector(args, 'link');
  const file = sel.rest[0];
  if (!file || sel.rest.length > 1) throw new UsageError('link pin LINK FILE');
  const fd = openLink(sel);
  try {
    objPin(fd.value, file, `pin link ${sel.what} at ${file}`);
  } finally {
    fd.close();
  }
}

/** link detach LINK: BPF_LINK_DETACH, even while the link is pinned or held open elsewhere. */
export function linkDetachCmd(args: string[]): void {
  const sel = parseSelector(args, 'link');
  if (sel.rest.length) throw new UsageError('link detach LINK');
  const fd = openLink(sel);
  try {
    const r = linkDetach(fd.value);
    if (r < 0) throw new BpfError('BPF_LINK_DETACH', -r, `link ${sel.what}`, -r === EOPNOTSUPP ? 'this kind of link cannot be detached (raw tracepoint, tracing): remove its pins and close its fds instead' : undefined);
  } finally {
    fd.close();
  }
}

/** BTF for `btf dump id N | map MAP | prog PROG`: the kernel object's BTF, by id. */
export function kernelBtfFor(source: string, what: string, selector: string[]): Btf {
  let id: number;
  if (source === 'id') {
    if (!/^\d+$/.test(what)) throw new UsageError(`btf dump id: '${what}' is not an id`);
    id = Number(what);
  } else if (source === 'map') {
    const fd = openMap(parseSelector(selector, 'map'));
    try {
      id = mapInfo(fd.value).btfId;
    } finally {
      fd.close();
    }
  } else {
    const fds = openProgs(parseSelector(selector, 'prog'));
    try {
      id = progInfo(fds[0]!.value).btfId;
    } finally {
      for (const f of fds) f.close();
    }
  }
  if (!id) throw new CliExit(`${source} ${what} has no BTF`);
  return btfById(id)!;
}
