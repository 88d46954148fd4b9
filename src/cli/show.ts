// `prog show|list` and `map show|list`, bpftool's plain layout and -j keys: what a listing's
// process runs (start.ts's short path, listing.ts, and the command tree's prog/map list). It loads
// neither BTF nor the codecs unless a program needs them (a name the kernel cut at 15 characters,
// bpf_metadata_* variables: objects.ts and maps/codec.ts on demand), nor the other prog and map
// commands (prog.ts, map.ts).
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { Cmd, ElemAttr, fdById } from '../syscall/bpf.js';
import { MapType, mapTypeName, progTypeName } from '../syscall/constants.js';
import type { Fd } from '../syscall/fd.js';
import { bootTimeToEpoch, fdinfoField, fdinfoMemlock, fdinfoText, mapInfo, type MapInfo, progInfo } from '../syscall/info.js';
import { jsonText } from './format.js';
import { hexArray, nameMayBeTruncated, openAll, openMap, out, parseSelector, pinnedLines, pinsOf, showObjects } from './select.js';

// ---- programs ----

function localIso(epochSec: number): string {
  const d = new Date(epochSec * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${sign}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
}

async function progJson(fd: number): Promise<Record<string, unknown>> {
  const info = progInfo(fd, { funcInfo: true });
  const o: Record<string, unknown> = { id: info.id, type: progTypeName(info.type) };
  // A name the kernel may have cut at 15 characters: the BTF function name (objects.ts's fullProgName).
  const name = nameMayBeTruncated(info) ? (await import('./objects.js')).fullProgName(info) : info.name;
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
  const memlock = fdinfoMemlock(fdinfoText(fd));
  if (memlock !== undefined) o.bytes_memlock = memlock;
  if (info.mapIds.length) o.map_ids = info.mapIds;
  if (info.btfId) o.btf_id = info.btfId;
  pinsOf('prog', info.id, o);
  const md = await progMetadata(info.mapIds);
  if (md) o.metadata = md;
  return o;
}

/**
 * The value of a program's first .rodata map (an array of one element with a BTF value), where
 * bpftool's `metadata` comes from; undefined when there is none or reading it failed (which, as
 * in bpftool, ends the search: a map gone meanwhile, a failed lookup).
 */
function rodataValue(mapIds: number[]): { info: MapInfo; value: Uint8Array } | undefined {
  for (const id of mapIds) {
    let fd: Fd;
    try {
      fd = fdById('map', id);
    } catch {
      return undefined;
    }
    try {
      const info = mapInfo(fd.value);
      if (info.type !== MapType.ARRAY || info.keySize !== 4 || info.maxEntries !== 1 || !info.btfValueTypeId || !info.name.includes('.rodata')) continue;
      const value = new Uint8Array(info.valueSize);
      if (new ElemAttr(fd.value).call(Cmd.MAP_LOOKUP_ELEM, new Uint8Array(4), value) < 0) return undefined;
      return { info, value };
    } finally {
      fd.close();
    }
  }
  return undefined;
}

/**
 * bpftool's `metadata`: the bpf_metadata_* variables of the program's first .rodata map (its BTF
 * value a DATASEC), by name without the prefix, formatted with BTF (BTF parsing and the codecs
 * load here, for a program that has such a map).
 */
async function progMetadata(mapIds: number[]): Promise<Record<string, unknown> | undefined> {
  const rodata = rodataValue(mapIds);
  if (!rodata) return undefined;
  const { info, value } = rodata;
  const [{ btfById }, { compileCodec }] = await Promise.all([import('./objects.js'), import('../maps/codec.js')]);
  let btf: Btf | undefined;
  try {
    btf = btfById(info.btfId);
  } catch {
    return undefined;
  }
  const sec = btf?.typeOrUndefined(info.btfValueTypeId);
  if (!btf || sec?.kind !== BtfKind.Datasec) return undefined;
  const md: Record<string, unknown> = {};
  let any = false;
  for (const v of sec.vars) {
    const t = btf.typeOrUndefined(v.type);
    if (t?.kind !== BtfKind.Var || !t.name.startsWith('bpf_metadata_')) continue;
    any = true;
    try {
      md[t.name.slice('bpf_metadata_'.length)] = compileCodec(btf, t.type, { bpftoolChars: true }).decode(new DataView(value.buffer, v.offset, v.size), 0);
    } catch {
      md[t.name.slice('bpf_metadata_'.length)] = hexArray(value.subarray(v.offset, v.offset + v.size));
    }
  }
  return any ? md : undefined;
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

export async function progShow(args: string[], json: boolean): Promise<void> {
  const objs: Record<string, unknown>[] = [];
  const sel = args.length === 0 ? undefined : parseSelector(args, 'prog');
  const fds = sel ? (await import('./objects.js')).openProgs(sel) : openAll('prog');
  for (const fd of fds) {
    try {
      objs.push(await progJson(fd.value));
    } finally {
      fd.close();
    }
  }
  // -j with a selector that found one program: the object alone, as bpftool prints it.
  if (sel && json && objs.length === 1) return void out(jsonText(objs[0]) + '\n');
  out(json ? jsonText(objs) + '\n' : objs.map(progText).join(''));
}

// ---- maps ----

export function mapJson(fd: number, info: MapInfo = mapInfo(fd)): Record<string, unknown> {
  const o: Record<string, unknown> = { id: info.id, type: mapTypeName(info.type) };
  if (info.name) o.name = info.name;
  o.flags = info.flags;
  o.bytes_key = info.keySize;
  o.bytes_value = info.valueSize;
  o.max_entries = info.maxEntries;
  const fdinfo = fdinfoText(fd);
  const memlock = fdinfoMemlock(fdinfo);
  if (memlock !== undefined) o.bytes_memlock = memlock;
  if (info.type === MapType.PROG_ARRAY) {
    // The program type a prog array is bound to once a program uses it (fdinfo, like bpftool).
    const owner = fdinfoField(fdinfo, 'owner_prog_type');
    const jited = fdinfoField(fdinfo, 'owner_jited');
    if (owner !== undefined) o.owner_prog_type = progTypeName(Number(owner));
    if (jited !== undefined) o.owner_jited = Number(jited) !== 0;
  }
  o.frozen = Number(fdinfoField(fdinfo, 'frozen') ?? 0);
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
  showObjects('map', args, json, openMap, mapJson, mapText);
}
