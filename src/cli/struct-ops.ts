// `bee-ts struct_ops list|show|dump|register|unregister`, like bpftool struct_ops: the kernel's
// STRUCT_OPS maps, their kernel type (from btf_vmlinux_value_type_id), their value rendered
// through vmlinux BTF (function pointers as "<prototype> <prog name>/prog_id:<id>"), and
// registering an object's struct_ops maps or unregistering one.
import fs from 'node:fs';
import path from 'node:path';
import type { Btf } from '../btf/btf.js';
import { BtfKind, type BtfType, type CompositeType } from '../btf/types.js';
import { typeToC } from '../btf/cdump.js';
import { isCharType } from '../maps/codec.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { BpfObject } from '../loader/object.js';
import { attachStructOps } from '../link/struct-ops.js';
import type { BaseLink } from '../link/link.js';
import { Cmd, ElemAttr, fdById, listIds, objInfo } from '../syscall/bpf.js';
import { MapType } from '../syscall/constants.js';
import { BpfError, ENOENT, errnoMessage } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { mapInfo, type MapInfo, progInfo } from '../syscall/info.js';
import { UsageError } from './errors.js';
import { CliExit } from './errors.js';

const VALUE_PREFIX = 'bpf_struct_ops_';

interface StructOpsMapRef {
  fd: Fd;
  info: MapInfo;
  /** Kernel struct name (`tcp_congestion_ops`), '' when unknown. */
  kernelType: string;
}

function kernelTypeOf(info: MapInfo): string {
  const t = info.btfVmlinuxValueTypeId ? vmlinuxBtf()?.typeOrUndefined(info.btfVmlinuxValueTypeId) : undefined;
  return t?.name.startsWith(VALUE_PREFIX) ? t.name.slice(VALUE_PREFIX.length) : (t?.name ?? '');
}

/** The STRUCT_OPS maps a selector names (all of them with no selector). The caller closes them. */
function select(args: string[]): StructOpsMapRef[] {
  const [how, what, ...rest] = args;
  if (how !== undefined && ((how !== 'id' && how !== 'name') || what === undefined || rest.length)) throw new UsageError('expected STRUCT_OPS_MAP as id ID | name NAME');
  if (how === 'id' && !/^\d+$/.test(what!)) throw new UsageError(`bad struct_ops map id '${what}'`);
  const out: StructOpsMapRef[] = [];
  const take = (fd: Fd) => {
    const info = mapInfo(fd.value);
    if (info.type !== MapType.STRUCT_OPS || (how === 'name' && info.name !== what)) return fd.close();
    out.push({ fd, info, kernelType: kernelTypeOf(info) });
  };
  if (how === 'id') {
    let fd: Fd;
    try {
      fd = fdById('map', Number(what));
    } catch (e) {
      if (e instanceof BpfError) throw new CliExit(`can't get map by id (${what}): ${errnoMessage(e.errno)}`);
      throw e;
    }
    take(fd);
    if (!out.length) throw new CliExit(`map id ${what} is not a struct_ops map`);
    return out;
  }
  for (const id of listIds('map')) {
    try {
      take(fdById('map', id));
    } catch (e) {
      if (!(e instanceof BpfError && e.errno === ENOENT)) throw e;
    }
  }
  if (how === 'name' && !out.length) throw new CliExit(`no struct_ops found for ${what}`);
  return out;
}

function closeAll(refs: StructOpsMapRef[]): void {
  for (const r of refs) r.fd.close();
}

// ---- list / show ----

export function structOpsShow(args: string[], json: boolean): void {
  let refs: StructOpsMapRef[];
  try {
    refs = select(args);
  } catch (e) {
    // bpftool's JSON output is an (empty) array even when the selector matched nothing.
    if (json && e instanceof CliExit) throw new CliExit('', '[]\n');
    throw e;
  }
  try {
    const rows = refs.map((r) => ({ id: r.info.id, name: r.info.name, kernel_struct_ops: r.kernelType }));
    // bpftool: an `id` selector prints the one object, without the array around it.
    const one = args[0] === 'id';
    process.stdout.write(json ? JSON.stringify(one ? rows[0] : rows) + '\n' : rows.map((r) => `${r.id}: ${r.name.padEnd(15)} ${r.kernel_struct_ops.padEnd(32)}\n`).join(''));
  } finally {
    closeAll(refs);
  }
}

// ---- dump: bpftool's BTF dumper over bpf_map_info and the map value ----

/** Written as-is in plain output (bpftool prints null pointers as `(nil)`, not as JSON). */
class Raw {
  constructor(
    readonly plain: string,
    readonly json: unknown,
  ) {}
}
type Value = null | number | bigint | string | Value[] | { [k: string]: Value } | Raw;

/** bpftool's json_writer layout: object members on their own lines (4 spaces a level), arrays inline. */
function jsonw(v: Value, plain: boolean, depth = 0): string {
  const ind = (d: number) => (plain ? '\n' + ' '.repeat(d * 4) : '');
  if (v instanceof Raw) return plain ? v.plain : jsonw(v.json as Value, plain, depth);
  if (v === null) return 'null';
  if (typeof v === 'bigint' || typeof v === 'number') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => jsonw(x, plain, depth + 1)).join(',')}${v.length && plain && typeof v[0] === 'object' ? ind(depth) : ''}]`;
  const keys = Object.keys(v);
  if (!keys.length) return '{}';
  return `{${keys.map((k) => `${ind(depth + 1)}${JSON.stringify(k)}:${plain ? ' ' : ''}${jsonw(v[k]!, plain, depth + 1)}`).join(',')}${ind(depth)}}`;
}

function readUint(dv: DataView, off: number, size: number): bigint {
  let x = 0n;
  for (let i = size - 1; i >= 0; i--) x = (x << 8n) | BigInt(dv.getUint8(off + i));
  return x;
}
const num = (x: bigint): number | bigint => (x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x);

/** A function prototype as bpftool writes it: `u32 (struct sock *)`. */
function protoText(btf: Btf, protoId: number): string {
  const p = btf.resolve(protoId);
  if (p.kind !== BtfKind.FuncProto) return typeToC(btf, protoId);
  const ret = p.returnType ? typeToC(btf, p.returnType) : 'void';
  const params = p.params.map((x) => (x.type ? typeToC(btf, x.type) : '...'));
  return `${ret} (${params.join(', ')})`;
}

function progNameById(id: number): string {
  try {
    const fd = fdById('prog', id);
    try {
      return progInfo(fd.value).name;
    } finally {
      fd.close();
    }
  } catch {
    return '';
  }
}

/** One value of BTF type `id` at `off`, the way bpftool's btf_dumper renders it. */
function render(btf: Btf, id: number, dv: DataView, off: number, bitOff = 0, bits = 0): Value {
  const t: BtfType = btf.typeById(id);
  switch (t.kind) {
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return render(btf, t.type, dv, off, bitOff, bits);
    case BtfKind.Int: {
      if (bits || t.bits !== t.size * 8) {
        const n = bits || t.bits;
        const raw = readUint(dv, off, t.size) >> BigInt(bitOff + t.bitOffset);
        return num(raw & ((1n << BigInt(n)) - 1n));
      }
      let x = readUint(dv, off, t.size);
      if (t.encoding & 1 && x >> BigInt(t.size * 8 - 1)) x -= 1n << BigInt(t.size * 8);
      if (t.encoding & 4) return new Raw(x ? 'true' : 'false', !!x);
      return num(x);
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      let x = readUint(dv, off, t.size);
      if (t.signed && x >> BigInt(t.size * 8 - 1)) x -= 1n << BigInt(t.size * 8);
      return t.values.find((v) => v.value === x)?.name ?? num(x);
    }
    case BtfKind.Ptr: {
      const x = readUint(dv, off, 8);
      if (btf.resolve(t.type).kind === BtfKind.FuncProto) {
        // struct_ops values keep the program id in each function-pointer slot.
        const proto = protoText(btf, t.type);
        if (!x) return `${proto} 0`;
        return `${proto} ${progNameById(Number(x))}/prog_id:${x}`;
      }
      return x ? new Raw(`0x${x.toString(16)}`, num(x)) : new Raw('(nil)', 0);
    }
    case BtfKind.Array: {
      if (isCharType(btf, t.type)) {
        const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, t.nelems);
        const z = bytes.indexOf(0);
        return Buffer.from(bytes.subarray(0, z < 0 ? bytes.length : z)).toString('latin1');
      }
      const size = btf.sizeof(t.type);
      return Array.from({ length: t.nelems }, (_, i) => render(btf, t.type, dv, off + i * size));
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      const o: { [k: string]: Value } = {};
      for (const m of (t as CompositeType).members) {
        const byte = Math.floor(m.bitOffset / 8);
        const v = render(btf, m.type, dv, off + (m.bitfieldSize ? 0 : byte), m.bitfieldSize ? m.bitOffset : 0, m.bitfieldSize);
        if (!m.name && v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw)) Object.assign(o, v);
        else o[m.name] = v;
      }
      return o;
    }
    default:
      return null;
  }
}

export function structOpsDump(args: string[], json: boolean): void {
  let refs: StructOpsMapRef[];
  try {
    refs = select(args);
  } catch (e) {
    if (e instanceof CliExit) throw new CliExit('', '[]\n');
    throw e;
  }
  try {
    const k = vmlinuxBtf();
    if (!k) throw new CliExit('struct_ops dump needs kernel BTF (/sys/kernel/btf/vmlinux)');
    const infoType = k.find('bpf_map_info', BtfKind.Struct) as CompositeType | undefined;
    const items: Value[] = [];
    for (const r of refs) {
      if (infoType) {
        const raw = new Uint8Array(infoType.size);
        objInfo(r.fd.value, raw, 'map info');
        items.push({ bpf_map_info: render(k, infoType.id, new DataView(raw.buffer), 0) });
      }
      const vt = r.info.btfVmlinuxValueTypeId;
      const value = new Uint8Array(r.info.valueSize);
      const rc = new ElemAttr(r.fd.value).call(Cmd.MAP_LOOKUP_ELEM, new Uint8Array(4), value);
      if (rc < 0) throw new CliExit(`can't lookup struct_ops map ${r.info.name} id ${r.info.id}: ${errnoMessage(-rc)}`);
      items.push({ [k.typeById(vt).name]: render(k, vt, new DataView(value.buffer), 0) });
    }
    // With an `id` selector bpftool writes the objects side by side, without the array.
    process.stdout.write((args[0] === 'id' ? items.map((x) => jsonw(x, !json)).join(',') : jsonw(items, !json)) + '\n');
  } finally {
    closeAll(refs);
  }
}

// ---- register / unregister ----

/** Register every struct_ops map of OBJ; links of `.struct_ops.link` maps are pinned under LINK_DIR. */
export function structOpsRegister(args: string[]): void {
  const [file, linkDir, ...rest] = args;
  if (!file || rest.length) throw new UsageError('expected: struct_ops register OBJ [LINK_DIR]');
  if (linkDir && !fs.statSync(linkDir, { throwIfNoEntry: false })?.isDirectory()) throw new CliExit(`LINK_DIR ${linkDir} is not a directory (create it on a bpffs mount)`);
  const obj = BpfObject.open(file).load();
  const names = obj.structOpsNames();
  if (!names.length) {
    obj.close();
    throw new CliExit(`${file} has no struct_ops maps (.struct_ops or .struct_ops.link)`);
  }
  let failed = 0;
  for (const name of names) {
    const { map, link: isLink, typeName } = obj.structOpsMap(name);
    let l: BaseLink;
    try {
      l = attachStructOps(obj, name) as BaseLink;
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      failed++;
      continue;
    }
    if (isLink && linkDir) l.pin(path.join(linkDir, name));
    else if (isLink) process.stderr.write(`Warning: ${name} is registered through a BPF link; without LINK_DIR it is unregistered when bee-ts exits\n`);
    // The kernel keeps a registered map (and a pinned link) alive on its own: forget the link
    // without detaching and close every fd it holds, the link fd and its own dup of the map fd
    // (closing only the link fd left one map fd per map open until the process exited).
    l.persist();
    l.close();
    process.stderr.write(`Registered ${typeName} ${name} id ${map.fd.value >= 0 ? mapInfo(map.fd.value).id : 0}\n`);
  }
  obj.close();
  if (failed) throw new CliExit('');
}

export function structOpsUnregister(args: string[]): void {
  if (!args.length) throw new UsageError('expected STRUCT_OPS_MAP as id ID | name NAME');
  const refs = select(args);
  let failed = 0;
  try {
    for (const r of refs) {
      const rc = new ElemAttr(r.fd.value).call(Cmd.MAP_DELETE_ELEM, new Uint8Array(4), null);
      if (rc < 0) {
        process.stderr.write(`Error: can't unload ${r.kernelType} ${r.info.name} id ${r.info.id}: ${errnoMessage(-rc)}\n`);
        failed++;
      } else process.stderr.write(`Unregistered ${r.kernelType} ${r.info.name} id ${r.info.id}\n`);
    }
  } finally {
    closeAll(refs);
  }
  if (failed) throw new CliExit('');
}
