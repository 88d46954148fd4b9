// struct_ops: kernel structs of function pointers (tcp_congestion_ops, sched_ext_ops, ...) filled
// with BPF programs. The object declares each one as a variable in `.struct_ops` (registered by a
// map update) or `.struct_ops.link` (registered through a BPF link, 6.4+), typed with a *local*
// copy of the kernel struct that may list only some members, in any order: members are matched
// to the kernel's by name, as libbpf does.
//
// Parse (kernel-free): each variable becomes a STRUCT_OPS map spec carrying the variable's bytes
// and which program each function-pointer member names (the section's relocations).
// Plan (against kernel BTF): the kernel struct `S`, its map value type `bpf_struct_ops_S` (whose
// `data` member holds an S), each program's attach BTF id (S) and expected attach type (the
// kernel member index), and the value image with every non-function member copied across.
import fs from 'node:fs';
import path from 'node:path';
import type { Btf } from '../btf/btf.js';
import { BeeTsError } from '../errors.js';
import { BtfKind, type CompositeType } from '../btf/types.js';
import type { ElfFile } from '../elf/reader.js';
import type { StructOpsSpec } from '../maps/spec.js';
import { MapType } from '../syscall/constants.js';

export type { StructOpsSpec };

/** map_flags bit: the struct_ops map is registered by BPF_LINK_CREATE, not by its update. */
export const BPF_F_LINK = 1 << 13;
export const STRUCT_OPS_SECTIONS = ['.struct_ops', '.struct_ops.link'] as const;


export class StructOpsError extends BeeTsError {
  constructor(
    readonly file: string,
    readonly map: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('STRUCT_OPS', `${file}: struct_ops '${map}': ${message}`, options);
  }
}

function isFuncPtr(btf: Btf, typeId: number): boolean {
  const t = btf.resolve(typeId);
  return t.kind === BtfKind.Ptr && btf.resolve(t.type).kind === BtfKind.FuncProto;
}

/** What a map spec needs from this file. */
export interface StructOpsMap {
  name: string;
  structOps?: StructOpsSpec;
}

/** STRUCT_OPS maps (spec fields) from the object's `.struct_ops` and `.struct_ops.link` sections. */
export function parseStructOpsMaps(elf: ElfFile, btf: Btf | undefined, file: string) {
  const out = [];
  for (const secName of STRUCT_OPS_SECTIONS) {
    const sec = elf.sectionByName(secName);
    if (!sec) continue;
    const ds = btf?.find(secName, BtfKind.Datasec);
    if (!btf || !ds) throw new StructOpsError(file, secName, `section ${secName} has no BTF; compile with clang -g`);
    const rels = elf.relocations.get(sec.index)?.relocations ?? [];
    for (const vi of ds.vars) {
      const v = btf.typeById(vi.type);
      if (v.kind !== BtfKind.Var) throw new StructOpsError(file, secName, `entry type ${vi.type} is not a variable`);
      const t = btf.resolve(v.type);
      if (t.kind !== BtfKind.Struct) throw new StructOpsError(file, v.name, 'is not a struct');
      const sym = elf.symbols.find((s) => s.shndx === sec.index && s.name === v.name);
      const start = sym?.value ?? vi.offset;
      const size = t.size;
      if (start + size > sec.data.length) throw new StructOpsError(file, v.name, `lies outside section ${secName}`);
      const programs: Record<string, string> = {};
      for (const r of rels) {
        if (r.offset < start || r.offset >= start + size) continue;
        const off = (r.offset - start) * 8;
        const m = t.members.find((x) => x.bitOffset === off);
        if (!m || !isFuncPtr(btf, m.type)) throw new StructOpsError(file, v.name, `relocation at byte ${r.offset - start} is not on a function-pointer member`);
        programs[m.name] = elf.symbols[r.symbol]!.name;
      }
      out.push({
        name: v.name,
        type: MapType.STRUCT_OPS,
        keySize: 4,
        valueSize: 0, // the kernel value type's size, known at load
        maxEntries: 1,
        flags: secName === '.struct_ops.link' ? BPF_F_LINK : 0,
        pinning: 0,
        mapExtra: 0n,
        section: secName,
        source: 'btf' as const,
        structOps: { typeName: t.name, typeId: t.id, data: Uint8Array.from(sec.data.subarray(start, start + size)), programs, link: secName === '.struct_ops.link' },
      });
    }
  }
  return out;
}

/** One struct_ops map resolved against the kernel. */
export interface StructOpsPlan {
  map: string;
  /** Kernel struct (`tcp_congestion_ops`) and value type (`bpf_struct_ops_tcp_congestion_ops`) ids. */
  kernTypeId: number;
  valueTypeId: number;
  valueSize: number;
  /** The value image: common header zero, `data` filled from the local bytes (program fds added at load). */
  image: Uint8Array;
  /** Byte offset in `image` of each program's fd slot (8 bytes). */
  slots: { program: string; offset: number }[];
  link: boolean;
}

export interface ProgramTarget {
  attachBtfId: number;
  /** expected_attach_type: the member index in the kernel struct. */
  memberIndex: number;
  map: string;
  member: string;
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/**
 * The loaded kernel module whose BTF defines `bpf_struct_ops_<typeName>` (its name under
 * /sys/kernel/btf), found by the type's name in each module's string section; undefined if none.
 */
export function structOpsModule(typeName: string, dir = '/sys/kernel/btf'): string | undefined {
  const needle = Buffer.from(`\0bpf_struct_ops_${typeName}\0`);
  let mods: string[];
  try {
    mods = fs.readdirSync(dir).filter((m) => m !== 'vmlinux');
  } catch {
    return undefined;
  }
  for (const m of mods) {
    try {
      if (fs.readFileSync(path.join(dir, m)).includes(needle)) return m;
    } catch {
      /* a module unloaded meanwhile */
    }
  }
  return undefined;
}

/** Resolve every struct_ops map of an object against kernel BTF (vmlinux). */
export function planStructOps(
  maps: readonly StructOpsMap[],
  localBtf: Btf,
  kernel: Btf | undefined,
  file: string,
  moduleOf: (typeName: string) => string | undefined = structOpsModule,
): { plans: Map<string, StructOpsPlan>; programs: Map<string, ProgramTarget> } {
  const plans = new Map<string, StructOpsPlan>();
  const programs = new Map<string, ProgramTarget>();
  for (const m of maps) {
    const so = m.structOps;
    if (!so) continue;
    if (!kernel) throw new StructOpsError(file, m.name, 'needs kernel BTF (/sys/kernel/btf/vmlinux)');
    const kt = kernel.find(so.typeName, BtfKind.Struct) as CompositeType | undefined;
    const vt = kernel.find(`bpf_struct_ops_${so.typeName}`, BtfKind.Struct) as CompositeType | undefined;
    if (!kt || !vt) {
      const mod = moduleOf(so.typeName);
      if (mod)
        throw new StructOpsError(
          file,
          m.name,
          `struct_ops type '${so.typeName}' is defined by kernel module '${mod}' (bpf_struct_ops_${so.typeName} is in /sys/kernel/btf/${mod}, not in vmlinux): bee-ts registers vmlinux struct_ops types only; a module's type needs the map and programs created against the module's BTF object (BPF_F_VTYPE_BTF_OBJ_FD, Linux 6.9+), which bee-ts does not implement`,
        );
    }
    if (!kt || !vt)
      throw new StructOpsError(file, m.name, `this kernel has no struct_ops type '${so.typeName}' (no bpf_struct_ops_${so.typeName} in vmlinux BTF: the subsystem is missing, in a module, or older than its BPF support)`);
    const dataMember = vt.members.find((x) => x.name === 'data');
    if (!dataMember) throw new StructOpsError(file, m.name, `bpf_struct_ops_${so.typeName} has no 'data' member`);
    const dataOff = dataMember.bitOffset / 8;
    const image = new Uint8Array(vt.size);
    const local = localBtf.typeById(so.typeId) as CompositeType;
    const slots: StructOpsPlan['slots'] = [];
    for (const lm of local.members) {
      const bytes = so.data.subarray(lm.bitOffset / 8, lm.bitOffset / 8 + (lm.bitfieldSize ? 0 : localBtf.sizeof(lm.type)));
      const prog = so.programs[lm.name];
      const ki = kt.members.findIndex((x) => x.name === lm.name);
      if (ki < 0) {
        // A member this kernel lacks can stay only if nothing was set in it.
        if (!prog && isZero(bytes)) continue;
        throw new StructOpsError(file, m.name, `member '${lm.name}' is not in this kernel's ${so.typeName}`);
      }
      const km = kt.members[ki]!;
      if (lm.bitfieldSize || km.bitfieldSize) throw new StructOpsError(file, m.name, `member '${lm.name}' is a bitfield (not supported)`);
      const off = dataOff + km.bitOffset / 8;
      if (isFuncPtr(localBtf, lm.type)) {
        if (!isFuncPtr(kernel, km.type)) throw new StructOpsError(file, m.name, `member '${lm.name}' is a function pointer here but not in the kernel's ${so.typeName}`);
        if (!prog) continue;
        const prev = programs.get(prog);
        if (prev && (prev.attachBtfId !== kt.id || prev.memberIndex !== ki))
          throw new StructOpsError(file, m.name, `program '${prog}' is already ${prev.map}.${prev.member}; one program can fill one kind of member only`);
        programs.set(prog, { attachBtfId: kt.id, memberIndex: ki, map: m.name, member: lm.name });
        slots.push({ program: prog, offset: off });
        continue;
      }
      const ksize = kernel.sizeof(km.type);
      if (ksize !== bytes.length) throw new StructOpsError(file, m.name, `member '${lm.name}' is ${bytes.length} bytes here but ${ksize} in the kernel's ${so.typeName}`);
      image.set(bytes, off);
    }
    plans.set(m.name, { map: m.name, kernTypeId: kt.id, valueTypeId: vt.id, valueSize: vt.size, image, slots, link: so.link });
  }
  return { plans, programs };
}

/** Write each program's fd into its member slot (the kernel reads the fd from the 8-byte pointer slot). */
export function fillStructOpsImage(plan: StructOpsPlan, fdOf: (program: string) => number | undefined, file: string): Uint8Array {
  const dv = new DataView(plan.image.buffer, plan.image.byteOffset, plan.image.byteLength);
  for (const s of plan.slots) {
    const fd = fdOf(s.program);
    if (fd === undefined) throw new StructOpsError(file, plan.map, `program '${s.program}' was not loaded`);
    dv.setBigUint64(s.offset, BigInt(fd), true);
  }
  return plan.image;
}

/** The member name of a struct_ops map value, for setting fields like `name` before load. */
export function setStructOpsField(spec: StructOpsMap, btf: Btf, member: string, value: string | Uint8Array, file: string): void {
  const so = spec.structOps;
  if (!so) throw new StructOpsError(file, spec.name, 'is not a struct_ops map');
  const t = btf.typeById(so.typeId) as CompositeType;
  const m = t.members.find((x) => x.name === member);
  if (!m) throw new StructOpsError(file, spec.name, `has no member '${member}' (have: ${t.members.map((x) => x.name).join(', ')})`);
  if (isFuncPtr(btf, m.type)) throw new StructOpsError(file, spec.name, `member '${member}' is a function pointer; it names a program in the object`);
  const size = btf.sizeof(m.type);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const room = typeof value === 'string' ? size - 1 : size;
  if (bytes.length > room) throw new StructOpsError(file, spec.name, `value for '${member}' is ${bytes.length} bytes; it holds ${room}`);
  const off = m.bitOffset / 8;
  so.data.fill(0, off, off + size);
  so.data.set(bytes, off);
}
