// Object spec: a parsed BPF object as plain data (cilium/ebpf's "spec vs object" split).
// Deterministic and kernel-free: same bytes in, same spec out. Everything that depends on the
// running kernel (CO-RE, BTF sanitizing, fds) happens later, at load.
import { BeeTsError } from '../errors.js';
import { Btf, parseBtf } from '../btf/btf.js';
import { type BtfExt, type CoreRelo, type LineInfo, parseBtfExt } from '../btf/ext.js';
import { BtfKind, type CompositeType, type DatasecType, FUNC_EXTERN, isComposite, VAR_EXTERN, VAR_STATIC } from '../btf/types.js';
import {
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  parseElf,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_SECTION,
  STV_HIDDEN,
} from '../elf/reader.js';
import { BPF_F_RDONLY_PROG, MapType } from '../syscall/constants.js';
import { mapTraits } from '../syscall/map-traits.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, INSN_SIZE, InsnBuffer } from './insn.js';
import { type AttachKind, matchSection } from './sections.js';
import { type DataKind, type DataSectionSpec, MAP_ROLES, type MapRole, type MapSpec, type VariableSpec } from '../maps/spec.js';

export { type DataKind, type DataSectionSpec, MAP_ROLES, type MapRole, type MapSpec, type VariableSpec } from '../maps/spec.js';
import { parseStructOpsMaps } from './struct-ops.js';

export class SpecError extends BeeTsError {
  constructor(
    readonly file: string,
    readonly subject: string,
    readonly defect: string,
    options?: ErrorOptions,
  ) {
    super('SPEC_INVALID', `${file}: ${subject}: ${defect}`, options);
  }
}

export type RelocKind = 'map' | 'data' | 'call' | 'func' | 'extern';

export interface RelocSpec {
  /** Instruction index inside the function. */
  insn: number;
  kind: RelocKind;
  symbol: string;
  /** map: map name; data: data section name; call/func: target section; extern: extern name. */
  target: string;
  /** data: byte offset inside the section; call/func: target instruction index inside `target`. */
  offset: number;
  elfType: number;
}

export interface FuncInfoSpec {
  insn: number;
  typeId: number;
}
export interface LineInfoSpec extends Omit<LineInfo, 'insnOff'> {
  insn: number;
}
export interface CoreReloSpec extends Omit<CoreRelo, 'insnOff'> {
  insn: number;
}

/** One function: a program (in a SEC() section) or a subprogram (in .text or alongside). */
export interface FunctionSpec {
  name: string;
  section: string;
  /** First instruction index inside the section. */
  sectionOffset: number;
  insns: Uint8Array;
  global: boolean;
  relocations: RelocSpec[];
  funcInfo: FuncInfoSpec[];
  lineInfo: LineInfoSpec[];
  coreRelos: CoreReloSpec[];
}

export interface ProgramSpec extends FunctionSpec {
  progType: number;
  expectedAttachType?: number;
  /** SEC_* flags from sections.ts (sleepable, attach BTF, ...). */
  secFlags: number;
  attach: AttachKind;
  /** Section suffix after the type prefix: `syscalls/sys_enter_openat`, `tcp_v4_connect`, ... */
  attachTarget: string;
  license: string;
  kernelVersion: number;
}

export interface ExternSpec {
  name: string;
  kind: 'kconfig' | 'ksym' | 'kfunc' | 'unknown';
  weak: boolean;
  typeId?: number;
}

export interface ObjectSpec {
  file: string;
  objName: string;
  littleEndian: boolean;
  license: string;
  kernelVersion: number;
  btf?: Btf;
  btfExt?: BtfExt;
  programs: ProgramSpec[];
  /** Every function, programs included, keyed `section:insnIndex` for call resolution. */
  functions: FunctionSpec[];
  maps: MapSpec[];
  dataSections: DataSectionSpec[];
  externs: ExternSpec[];
}

export interface ParseOptions {
  file?: string;
}

const MAPS_SECTION = /^\.maps(\.(.+))?$/;
const DATA_SECTION = /^\.(data|bss|rodata)(\..+)?$/;

export function roleFromName(name: string): MapRole | undefined {
  for (const r of MAP_ROLES) if (name.startsWith(`${r}_`)) return r;
  return undefined;
}

/** Largest global data section we accept (the kernel's array map values are far smaller in practice). */
const MAX_DATA_SECTION = 64 << 20;

/** sizeof(struct bpf_map_def): type, key_size, value_size, max_entries, map_flags. */
const LEGACY_MAP_DEF_SIZE = 20;

/** bee's legacy convention looked for the kind anywhere in the section name. */
export function roleFromSection(section: string): MapRole | undefined {
  const m = MAPS_SECTION.exec(section);
  if (!m || !m[2]) return undefined;
  for (const r of MAP_ROLES) if (m[2].includes(r)) return r;
  return undefined;
}

/** libbpf's object name: the file's basename up to the first dot, limited to identifier chars. */
export function objectName(file: string): string {
  const base = file.split('/').pop() ?? file;
  const stem = base.split('.')[0] || 'obj';
  return stem.replace(/[^A-Za-z0-9_]/g, '_');
}

export function dataMapName(objName: string, section: string): string {
  // libbpf's internal_map_name: the section name (at least 7 characters' room) after as much of
  // the object name as fits in 15; custom sections (`.rodata.foo`) keep their own name.
  // .data/.bss/.rodata get 8 characters of prefix, .kconfig 7.
  const sfx = Math.min(Math.max(7, section.length), 15);
  const pfx = section.indexOf('.', 1) >= 0 ? 0 : Math.min(16 - sfx - 1, objName.length);
  return `${objName.slice(0, pfx)}${section.slice(0, sfx)}`;
}

export function parseObject(bytes: Uint8Array, opts: ParseOptions = {}): ObjectSpec {
  const file = opts.file ?? '<object>';
  const elf = parseElf(bytes, file);
  return new ObjectParser(elf, file).parse();
}

class ObjectParser {
  private btf?: Btf;
  private ext?: BtfExt;
  private readonly objName: string;

  constructor(
    private readonly elf: ElfFile,
    private readonly file: string,
  ) {
    this.objName = objectName(file);
  }

  private err(subject: string, defect: string): never {
    throw new SpecError(this.file, subject, defect);
  }

  parse(): ObjectSpec {
    const elf = this.elf;
    const btfSec = elf.sectionByName('.BTF');
    if (btfSec) this.btf = parseBtf(btfSec.data, { file: `${this.file} (.BTF)` });
    const extSec = elf.sectionByName('.BTF.ext');
    if (extSec && this.btf) this.ext = parseBtfExt(extSec.data, this.btf, `${this.file} (.BTF.ext)`);

    const license = this.readLicense();
    const kernelVersion = this.readVersion();
    const dataSections = this.parseDataSections();
    if (this.btf) this.fixupDatasecs(dataSections);
    const maps: MapSpec[] = [...this.parseBtfMaps(), ...this.parseLegacyMaps(), ...parseStructOpsMaps(this.elf, this.btf, this.file)];
    const seen = new Set<string>();
    for (const m of maps) {
      if (seen.has(m.name)) this.err(`map '${m.name}'`, 'defined twice');
      seen.add(m.name);
    }
    for (const d of dataSections) {
      maps.push({
        name: d.mapName,
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: d.size,
        maxEntries: 1,
        flags: 0,
        pinning: 0,
        mapExtra: 0n,
        valueTypeId: d.datasecId,
        section: d.section,
        source: 'data',
        data: d.data,
        dataSection: d,
      });
    }
    const externs = this.parseExterns();
    const functions = this.parseFunctions(maps, dataSections, externs);
    // __kconfig externs live in a read-only array map the loader fills (after the relocation
    // pass above, which treats .kconfig references as externs, not as a map).
    const kconfig = this.datasec('.kconfig');
    if (kconfig && externs.some((e) => e.kind === 'kconfig'))
      maps.push({
        name: dataMapName(this.objName, '.kconfig'),
        type: MapType.ARRAY,
        keySize: 4,
        valueSize: Math.max(kconfig.size, 1),
        maxEntries: 1,
        flags: BPF_F_RDONLY_PROG,
        pinning: 0,
        mapExtra: 0n,
        valueTypeId: kconfig.id,
        section: '.kconfig',
        source: 'kconfig',
      });
    const programs: ProgramSpec[] = [];
    for (const f of functions) {
      if (f.section === '.text') continue;
      const m = matchSection(f.section);
      programs.push({
        ...f,
        progType: m?.def.progType ?? 0,
        expectedAttachType: m?.def.attachType,
        secFlags: m?.def.flags ?? 0,
        attach: m?.def.hook.kind ?? 'none',
        attachTarget: m?.target ?? '',
        license,
        kernelVersion,
      });
    }
    return {
      file: this.file,
      objName: this.objName,
      littleEndian: elf.littleEndian,
      license,
      kernelVersion,
      btf: this.btf,
      btfExt: this.ext,
      programs,
      functions,
      maps,
      dataSections,
      externs,
    };
  }

  private readLicense(): string {
    const s = this.elf.sectionByName('license');
    if (!s) return '';
    const nul = s.data.indexOf(0);
    return Buffer.from(s.data.subarray(0, nul < 0 ? s.data.length : nul)).toString('latin1');
  }

  private readVersion(): number {
    const s = this.elf.sectionByName('version');
    if (!s) return 0;
    if (s.data.length !== 4) this.err('section version', `is ${s.data.length} bytes, expected 4`);
    return new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, this.elf.littleEndian);
  }

  private symbolsIn(sec: ElfSection): ElfSymbol[] {
    return this.elf.symbols.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name !== '');
  }

  private datasec(name: string): DatasecType | undefined {
    return this.btf?.find(name, BtfKind.Datasec);
  }

  // ---- global data ----

  private parseDataSections(): DataSectionSpec[] {
    const out: DataSectionSpec[] = [];
    const referenced = new Set<number>();
    for (const r of this.elf.relocations.values())
      for (const rel of r.relocations) referenced.add(this.elf.symbols[rel.symbol]!.shndx);
    for (const sec of this.elf.sections) {
      const m = DATA_SECTION.exec(sec.name);
      if (!m || !(sec.flags & BigInt(SHF_ALLOC)) || sec.flags & BigInt(SHF_EXECINSTR)) continue;
      if (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS) continue;
      const syms = this.symbolsIn(sec);
      // String-literal sections and the like only matter when code points into them.
      if (syms.length === 0 && !referenced.has(sec.index)) continue;
      const kind: DataKind = m[1] === 'bss' ? 'bss' : m[1] === 'rodata' ? 'rodata' : 'data';
      // A .bss is NOBITS: its size is only a number in the header, so bound it before allocating.
      if (sec.size > MAX_DATA_SECTION) this.err(`section ${sec.name}`, `is ${sec.size} bytes; global data larger than ${MAX_DATA_SECTION} bytes cannot be one map value`);
      const data = sec.type === SHT_NOBITS ? new Uint8Array(sec.size) : Uint8Array.from(sec.data);
      const vars: VariableSpec[] = syms
        .filter((s) => s.type !== STT_FUNC)
        .map((s) => ({
          name: s.name,
          typeId: 0,
          offset: s.value,
          size: s.size,
          global: s.bind !== STB_LOCAL && s.visibility !== STV_HIDDEN,
        }));
      for (const v of vars)
        if (v.offset + v.size > sec.size) this.err(`variable '${v.name}'`, `lies outside section ${sec.name} (${sec.size} bytes)`);
      out.push({
        section: sec.name,
        kind,
        mapName: dataMapName(this.objName, sec.name),
        size: sec.size,
        readonly: kind === 'rodata',
        data,
        variables: vars.sort((a, b) => a.offset - b.offset),
      });
    }
    return out;
  }

  /** clang leaves DATASEC sizes and variable offsets at 0: fill them from the ELF (as libbpf does). */
  private fixupDatasecs(sections: DataSectionSpec[]): void {
    const btf = this.btf!;
    for (const t of btf.types) {
      if (t.kind !== BtfKind.Datasec) continue;
      const d = sections.find((s) => s.section === t.name);
      const sec = this.elf.sectionByName(t.name);
      if (sec && t.size === 0) t.size = sec.size;
      if (!sec && (t.name === '.kconfig' || t.name === '.ksyms')) {
        // Extern sections have no ELF section: lay the variables out in declaration order at
        // their natural alignment (the loader builds the .kconfig map image from this layout).
        let off = 0;
        for (const v of t.vars) {
          const vt = btf.typeById(v.type);
          const tid = vt.kind === BtfKind.Var ? vt.type : v.type;
          let size = 0;
          let align = 1;
          try {
            size = btf.sizeof(tid);
            align = Math.min(btf.alignof(tid), 8);
          } catch {
            size = 0;
          }
          off = Math.ceil(off / align) * align;
          v.offset = off;
          v.size = size;
          off += size;
        }
        t.size = off;
        continue;
      }
      for (const v of t.vars) {
        const vt = btf.typeById(v.type);
        if (vt.kind !== BtfKind.Var) continue;
        if (sec) {
          const sym = this.elf.symbols.find((s) => s.shndx === sec.index && s.name === vt.name && s.type !== STT_SECTION);
          if (sym) {
            v.offset = sym.value;
            // Hidden globals cannot be looked up by name from outside: treat them as static.
            if (sym.visibility === STV_HIDDEN && vt.linkage !== VAR_STATIC) vt.linkage = VAR_STATIC;
          }
        }
        if (d) {
          const sv = d.variables.find((x) => x.name === vt.name);
          if (sv) {
            sv.typeId = vt.type;
            sv.global = vt.linkage !== VAR_STATIC && sv.global;
            if (!sv.size) sv.size = v.size;
          }
        }
      }
      t.vars.sort((a, b) => a.offset - b.offset);
      if (d) d.datasecId = t.id;
    }
  }

  // ---- maps ----

  private parseBtfMaps(): MapSpec[] {
    const out: MapSpec[] = [];
    for (const sec of this.elf.sections) {
      if (!MAPS_SECTION.test(sec.name)) continue;
      const suffixRole = roleFromSection(sec.name);
      const ds = this.datasec(sec.name);
      if (!ds) {
        if (this.symbolsIn(sec).length === 0) continue;
        this.err(`section ${sec.name}`, 'has map definitions but no BTF; compile with clang -g');
      }
      const btf = this.btf!;
      const rels = this.elf.relocations.get(sec.index)?.relocations ?? [];
      for (const vi of ds.vars) {
        const v = btf.typeById(vi.type);
        if (v.kind !== BtfKind.Var) this.err(`section ${sec.name}`, `entry type ${vi.type} is not a VAR`);
        const sym = this.elf.symbols.find((s) => s.shndx === sec.index && s.name === v.name);
        const base = sym?.value ?? vi.offset;
        const def = btf.resolve(v.type);
        if (!isComposite(def) || def.kind !== BtfKind.Struct) this.err(`map '${v.name}'`, 'definition is not a struct');
        const spec = this.mapFromBtfDef(v.name, def as CompositeType, sec.name);
        const prefixRole = roleFromName(v.name);
        if (prefixRole && suffixRole && prefixRole !== suffixRole)
          this.err(`map '${v.name}'`, `name prefix says '${prefixRole}' but section ${sec.name} says '${suffixRole}'; use one convention`);
        if (prefixRole) {
          spec.role = prefixRole;
          spec.roleSource = 'prefix';
        } else if (suffixRole) {
          spec.role = suffixRole;
          spec.roleSource = 'suffix';
        }
        // `.values = { [i] = &x }`: relocations in the map's own bytes, 8 bytes per slot.
        const valuesMember = (def as CompositeType).members.find((m) => m.name === 'values');
        if (valuesMember) {
          const start = base + valuesMember.bitOffset / 8;
          // The initializer extends the variable past the struct: the symbol's size covers it.
          const end = base + Math.max(sym?.size ?? 0, vi.size);
          const slots: { index: number; symbol: string }[] = [];
          for (const r of rels) {
            if (r.offset < start || r.offset >= end) continue;
            const index = (r.offset - start) / 8;
            if (!Number.isInteger(index) || index < 0) continue;
            slots.push({ index, symbol: this.elf.symbols[r.symbol]!.name });
          }
          if (slots.length) spec.initSlots = slots.sort((a, b) => a.index - b.index);
        }
        out.push(spec);
      }
    }
    return out;
  }

  private mapFromBtfDef(name: string, def: CompositeType, section: string, inner = false): MapSpec {
    const btf = this.btf!;
    const subject = `map '${name}'${inner ? ' (inner map)' : ''}`;
    const spec: MapSpec = {
      name,
      type: 0,
      keySize: 0,
      valueSize: 0,
      maxEntries: 0,
      flags: 0,
      pinning: 0,
      mapExtra: 0n,
      section,
      source: 'btf',
    };
    let keySizeSet = false;
    let declaredValueSize: number | undefined;
    let typeValueSize: number | undefined;
    // `__uint(x, N)` is `int (*x)[N]`: the value is the array length.
    const uintOf = (typeId: number, member: string): number => {
      const p = btf.resolve(typeId);
      if (p.kind === BtfKind.Enum || p.kind === BtfKind.Enum64) return Number(p.values[0]?.value ?? 0);
      if (p.kind !== BtfKind.Ptr) this.err(subject, `attribute '${member}' is not declared with __uint()`);
      const arr = btf.resolve(p.type);
      if (arr.kind !== BtfKind.Array) this.err(subject, `attribute '${member}' is not declared with __uint()`);
      return arr.nelems;
    };
    const typeOf = (typeId: number, member: string): number => {
      const p = btf.resolve(typeId);
      if (p.kind !== BtfKind.Ptr) this.err(subject, `attribute '${member}' is not declared with __type()`);
      return p.type;
    };
    for (const m of def.members) {
      switch (m.name) {
        case 'type':
          spec.type = uintOf(m.type, m.name);
          break;
        case 'max_entries':
          spec.maxEntries = uintOf(m.type, m.name);
          break;
        case 'map_flags':
          spec.flags = uintOf(m.type, m.name);
          break;
        case 'numa_node':
          spec.numaNode = uintOf(m.type, m.name);
          break;
        case 'pinning':
          spec.pinning = uintOf(m.type, m.name);
          if (spec.pinning > 1) this.err(subject, `pinning ${spec.pinning} is not supported (0 = none, 1 = by name)`);
          break;
        case 'map_extra':
          spec.mapExtra = BigInt(uintOf(m.type, m.name));
          break;
        case 'key_size': {
          const n = uintOf(m.type, m.name);
          if (keySizeSet && n !== spec.keySize) this.err(subject, `key_size ${n} disagrees with the key type's size ${spec.keySize}`);
          spec.keySize = n;
          keySizeSet = true;
          break;
        }
        case 'value_size':
          declaredValueSize = uintOf(m.type, m.name);
          break;
        case 'key': {
          const t = typeOf(m.type, m.name);
          const n = btf.sizeof(t);
          if (keySizeSet && n !== spec.keySize) this.err(subject, `key type size ${n} disagrees with key_size ${spec.keySize}`);
          spec.keyTypeId = t;
          spec.keySize = n;
          keySizeSet = true;
          break;
        }
        case 'value': {
          const t = typeOf(m.type, m.name);
          spec.valueTypeId = t;
          typeValueSize = btf.sizeof(t);
          break;
        }
        case 'values': {
          // __array(values, T): a zero-length array of pointers to the inner map definition or a prog prototype.
          const arr = btf.resolve(m.type);
          if (arr.kind !== BtfKind.Array || arr.nelems !== 0) this.err(subject, "'values' must be declared with __array()");
          const ptr = btf.resolve(arr.type);
          if (ptr.kind !== BtfKind.Ptr) this.err(subject, "'values' elements must be pointers");
          const target = btf.resolve(ptr.type);
          if (target.kind === BtfKind.Struct) {
            if (inner) this.err(subject, 'nested map-in-map is not supported');
            spec.inner = this.mapFromBtfDef(`${name}.inner`, target, section, true);
          } else if (target.kind !== BtfKind.FuncProto) this.err(subject, "'values' must point to a map definition or a function prototype");
          declaredValueSize ??= 4;
          break;
        }
        default:
          this.err(subject, `unknown attribute '${m.name}'`);
      }
    }
    if (!spec.type) this.err(subject, "has no 'type' attribute");
    // Ring buffers and perf event arrays carry records: their value type describes a record, not a slot.
    const carriesRecords = mapTraits(spec.type).records;
    if (!carriesRecords && declaredValueSize !== undefined && typeValueSize !== undefined && declaredValueSize !== typeValueSize)
      this.err(subject, `value type size ${typeValueSize} disagrees with value_size ${declaredValueSize}`);
    spec.valueSize = declaredValueSize ?? typeValueSize ?? 0;
    // The ring buffer has no key or value in the kernel's eyes; the declared value type is kept for decoding.
    if (spec.type === MapType.RINGBUF || spec.type === MapType.USER_RINGBUF) {
      spec.keySize = 0;
      spec.valueSize = 0;
    }
    if (spec.type === MapType.PERF_EVENT_ARRAY) {
      if (!keySizeSet) spec.keySize = 4;
      spec.valueSize = 4;
    }
    return spec;
  }

  /** The legacy `maps` section: struct bpf_map_def { type, key_size, value_size, max_entries, map_flags }. */
  private parseLegacyMaps(): MapSpec[] {
    const sec = this.elf.sectionByName('maps');
    if (!sec) return [];
    const syms = this.symbolsIn(sec).sort((a, b) => a.value - b.value);
    if (syms.length === 0) return [];
    const le = this.elf.littleEndian;
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    const defaultSize = Math.floor(sec.size / syms.length);
    return syms.map((s) => {
      const size = s.size || defaultSize;
      const subject = `map '${s.name}' (legacy maps section)`;
      if (size < 16) this.err(subject, `definition is ${size} bytes; struct bpf_map_def needs at least 16`);
      if (s.value + size > sec.data.length) this.err(subject, 'definition lies outside the maps section');
      const u32 = (i: number) => (i * 4 + 4 <= size ? dv.getUint32(s.value + i * 4, le) : 0);
      const spec: MapSpec = {
        name: s.name,
        type: u32(0),
        keySize: u32(1),
        valueSize: u32(2),
        maxEntries: u32(3),
        flags: u32(4),
        pinning: 0,
        mapExtra: 0n,
        section: 'maps',
        source: 'legacy',
        role: roleFromName(s.name),
      };
      if (spec.role) spec.roleSource = 'prefix';
      if (!spec.type) this.err(subject, 'has map type 0');
      // libbpf 0.x's rule: fields past struct bpf_map_def (5 u32s) must be zero, or the
      // definition carries options this loader would silently drop.
      for (let off = LEGACY_MAP_DEF_SIZE; off < size; off++)
        if (sec.data[s.value + off] !== 0) this.err(subject, `has non-zero bytes at offset ${off}, past the ${LEGACY_MAP_DEF_SIZE} bytes of struct bpf_map_def (unsupported options); declare the map in a BTF .maps section`);
      // Perf event arrays hold a CPU index and a perf event fd: 4-byte key and value.
      if (spec.type === MapType.PERF_EVENT_ARRAY) {
        if (!spec.keySize) spec.keySize = 4;
        if (!spec.valueSize) spec.valueSize = 4;
      }
      return spec;
    });
  }

  // ---- externs ----

  private parseExterns(): ExternSpec[] {
    const out: ExternSpec[] = [];
    const kconfig = this.datasec('.kconfig');
    const ksyms = this.datasec('.ksyms');
    const btf = this.btf;
    const varIn = (ds: DatasecType | undefined, name: string) =>
      ds?.vars.map((v) => btf!.typeById(v.type)).find((t) => t.kind === BtfKind.Var && t.name === name);
    for (const s of this.elf.symbols) {
      if (s.shndx !== SHN_UNDEF || !s.name || (s.bind !== STB_GLOBAL && s.bind !== STB_WEAK)) continue;
      const weak = s.bind === STB_WEAK;
      const kv = varIn(kconfig, s.name);
      if (kv && kv.kind === BtfKind.Var) {
        out.push({ name: s.name, kind: 'kconfig', weak, typeId: kv.type });
        continue;
      }
      const sv = varIn(ksyms, s.name);
      if (sv && sv.kind === BtfKind.Var) {
        out.push({ name: s.name, kind: 'ksym', weak, typeId: sv.type });
        continue;
      }
      // A kfunc is an extern FUNC declared __ksym (clang lists it in .ksyms); a plain extern
      // function is an undefined symbol, as in libbpf, not a kernel function of that name.
      const fn = ksyms?.vars.map((v) => btf!.typeById(v.type)).find((t) => t.kind === BtfKind.Func && t.name === s.name);
      if (fn) {
        out.push({ name: s.name, kind: 'kfunc', weak, typeId: fn.id });
        continue;
      }
      // With BTF, an extern outside .kconfig/.ksyms has nothing to bind to (libbpf: "failed to
      // find BTF for extern ... section"); without BTF it stays an undefined symbol.
      const decl = btf?.idsByName(s.name).map((id) => btf.types[id]!).find((t) => (t.kind === BtfKind.Func && t.linkage === FUNC_EXTERN) || (t.kind === BtfKind.Var && t.linkage === VAR_EXTERN));
      if (decl)
        this.err(
          `extern '${s.name}'`,
          `is declared without __ksym or __kconfig (it is in neither .ksyms nor .kconfig): a kernel function or variable needs __ksym, a kernel config value __kconfig`,
        );
      out.push({ name: s.name, kind: 'unknown', weak });
    }
    // Kconfig externs the code does not reference still get a slot (libbpf lays them all out).
    if (kconfig && btf) {
      for (const v of kconfig.vars) {
        const t = btf.typeById(v.type);
        if (t.kind === BtfKind.Var && !out.some((e) => e.name === t.name))
          out.push({ name: t.name, kind: 'kconfig', weak: false, typeId: t.type });
      }
    }
    return out;
  }

  // ---- functions and relocations ----

  private parseFunctions(maps: MapSpec[], data: DataSectionSpec[], externs: ExternSpec[]): FunctionSpec[] {
    const elf = this.elf;
    const out: FunctionSpec[] = [];
    const mapSections = new Set(maps.filter((m) => m.source !== 'data').map((m) => m.section));
    const dataBySection = new Map(data.map((d) => [d.section, d]));
    for (const sec of elf.sections) {
      if (sec.type !== SHT_PROGBITS || !(sec.flags & BigInt(SHF_EXECINSTR)) || sec.size === 0) continue;
      if (sec.size % INSN_SIZE !== 0) this.err(`section ${sec.name}`, `size ${sec.size} is not a multiple of 8 (instructions)`);
      const funcs = this.symbolsIn(sec)
        .filter((s) => s.type === STT_FUNC)
        .sort((a, b) => a.value - b.value);
      if (funcs.length === 0) this.err(`section ${sec.name}`, 'holds code but no function symbol');
      const rels = elf.relocations.get(sec.index)?.relocations ?? [];
      const secInsns = new InsnBuffer(sec.data, elf.littleEndian);
      const funcInfo = this.ext?.funcInfo.get(sec.name) ?? [];
      const lineInfo = this.ext?.lineInfo.get(sec.name) ?? [];
      const coreRelos = this.ext?.coreRelos.get(sec.name) ?? [];
      for (let fi = 0; fi < funcs.length; fi++) {
        const sym = funcs[fi]!;
        const subject = `program '${sym.name}' (section ${sec.name})`;
        const start = sym.value;
        const end = sym.size ? start + sym.size : (funcs[fi + 1]?.value ?? sec.size);
        if (start % INSN_SIZE || end % INSN_SIZE || end > sec.size || end <= start)
          this.err(subject, `bounds [${start}, ${end}) are not whole instructions inside the section`);
        const first = start / INSN_SIZE;
        const inRange = (byteOff: number) => byteOff >= start && byteOff < end;
        const relocs: RelocSpec[] = [];
        for (const r of rels) {
          if (!inRange(r.offset)) continue;
          relocs.push(this.classifyReloc(r, secInsns, subject, mapSections, dataBySection, externs, first));
        }
        // Calls within the section that carry no relocation are already pc-relative.
        for (let i = first; i < end / INSN_SIZE; i++) {
          if (secInsns.isLdImm64(i)) {
            i++;
            continue;
          }
          if (secInsns.isCall(i) && secInsns.src(i) === BPF_PSEUDO_CALL && !relocs.some((r) => r.insn === i - first)) {
            const target = i + secInsns.imm(i) + 1;
            if (target < 0 || target >= sec.size / INSN_SIZE) this.err(subject, `call at instruction ${i - first} jumps outside its section`);
            relocs.push({ insn: i - first, kind: 'call', symbol: '', target: sec.name, offset: target, elfType: 0 });
          }
        }
        relocs.sort((a, b) => a.insn - b.insn);
        out.push({
          name: sym.name,
          section: sec.name,
          sectionOffset: first,
          insns: Uint8Array.from(sec.data.subarray(start, end)),
          global: sym.bind !== STB_LOCAL,
          relocations: relocs,
          funcInfo: funcInfo.filter((f) => inRange(f.insnOff)).map((f) => ({ insn: (f.insnOff - start) / INSN_SIZE, typeId: f.typeId })),
          lineInfo: lineInfo
            .filter((l) => inRange(l.insnOff))
            .map(({ insnOff, ...rest }) => ({ ...rest, insn: (insnOff - start) / INSN_SIZE })),
          coreRelos: coreRelos
            .filter((c) => inRange(c.insnOff))
            .map(({ insnOff, ...rest }) => ({ ...rest, insn: (insnOff - start) / INSN_SIZE })),
        });
      }
    }
    return out;
  }

  private classifyReloc(
    r: { offset: number; symbol: number; type: number },
    insns: InsnBuffer,
    subject: string,
    mapSections: Set<string>,
    dataBySection: Map<string, DataSectionSpec>,
    externs: ExternSpec[],
    first: number,
  ): RelocSpec {
    const elf = this.elf;
    const sym = elf.symbols[r.symbol]!;
    const idx = r.offset / INSN_SIZE;
    if (!Number.isInteger(idx)) this.err(subject, `relocation at byte ${r.offset} is not on an instruction boundary`);
    const insn = idx - first;
    const isLd = insns.isLdImm64(idx);
    const isCall = insns.isCall(idx);
    if (isLd && idx + 1 >= insns.count) this.err(subject, `ld_imm64 at instruction ${insn} is truncated`);
    const symSec = sym.shndx !== SHN_UNDEF && sym.shndx < elf.sections.length ? elf.sections[sym.shndx] : undefined;
    const base = { insn, symbol: sym.name, elfType: r.type };
    if (sym.shndx === SHN_UNDEF) {
      const ext = externs.find((e) => e.name === sym.name);
      if (!ext) this.err(subject, `relocation against undefined symbol '${sym.name}'`);
      return { ...base, kind: 'extern', target: sym.name, offset: 0 };
    }
    if (!symSec) this.err(subject, `relocation against symbol '${sym.name}' in a special section`);
    if (isCall) {
      if (insns.src(idx) !== BPF_PSEUDO_CALL) this.err(subject, `relocated call at instruction ${insn} is not a BPF-to-BPF call`);
      if (!(symSec!.flags & BigInt(SHF_EXECINSTR))) this.err(subject, `call at instruction ${insn} targets non-code section ${symSec!.name}`);
      const target = sym.type === STT_SECTION ? sym.value / INSN_SIZE + insns.imm(idx) + 1 : sym.value / INSN_SIZE;
      return { ...base, kind: 'call', target: symSec!.name, offset: target };
    }
    if (!isLd) this.err(subject, `relocation at instruction ${insn} is on opcode 0x${insns.code(idx).toString(16)}, not ld_imm64 or call`);
    if (symSec!.flags & BigInt(SHF_EXECINSTR)) {
      if (insns.src(idx) !== BPF_PSEUDO_FUNC && insns.src(idx) !== 0)
        this.err(subject, `instruction ${insn} takes the address of code in an unsupported way`);
      const byteOff = sym.value + insns.imm(idx);
      if (byteOff % INSN_SIZE) this.err(subject, `callback reference at instruction ${insn} is not instruction-aligned`);
      return { ...base, kind: 'func', target: symSec!.name, offset: byteOff / INSN_SIZE };
    }
    if (mapSections.has(symSec!.name) || symSec!.name === 'maps') {
      if (sym.type === STT_SECTION) this.err(subject, `map reference at instruction ${insn} has no map symbol`);
      return { ...base, kind: 'map', target: sym.name, offset: 0 };
    }
    const d = dataBySection.get(symSec!.name);
    if (d) {
      const off = (sym.type === STT_SECTION ? 0 : sym.value) + insns.imm(idx);
      if (off < 0 || off > d.size) this.err(subject, `reference into ${symSec!.name} at offset ${off} is outside the section`);
      return { ...base, kind: 'data', target: symSec!.name, offset: off };
    }
    return this.err(subject, `relocation at instruction ${insn} refers to '${sym.name}' in section ${symSec!.name}, which is neither a map nor global data`);
  }
}

/** Programs with the subprograms they call, for listings. */
export function programInsnCount(p: FunctionSpec): number {
  return p.insns.length / INSN_SIZE;
}

export type { LineInfo };
