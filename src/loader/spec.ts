// Object spec: a parsed BPF object as plain data (cilium/ebpf's "spec vs object" split).
// Deterministic and kernel-free: same bytes in, same spec out. Everything that depends on the
// running kernel (CO-RE, BTF sanitizing, fds) happens later, at load. This file drives the parse
// and owns programs, functions, externs and relocations; global data is parsed in spec-data.ts,
// map definitions in spec-maps.ts, struct_ops variables in struct-ops.ts.
import { BeeTsError } from '../errors.js';
import { Btf, parseBtf } from '../btf/btf.js';
import { type BtfExt, type CoreRelo, type LineInfo, parseBtfExt } from '../btf/ext.js';
import { BtfKind, type DatasecType, FUNC_EXTERN, FUNC_GLOBAL, FUNC_STATIC, VAR_EXTERN } from '../btf/types.js';
import {
  type ElfFile,
  type ElfSection,
  type ElfSymbol,
  parseElf,
  SHF_EXECINSTR,
  SHN_UNDEF,
  SHT_PROGBITS,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_SECTION,
  STV_HIDDEN,
  STV_INTERNAL,
} from '../elf/reader.js';
import { BPF_F_RDONLY_PROG, MapType } from '../syscall/constants.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, INSN_SIZE, InsnBuffer } from './insn.js';
import { type AttachKind, matchSection } from './sections.js';
import type { DataSectionSpec, MapSpec } from '../maps/spec.js';

export { type DataKind, type DataSectionSpec, type MapSpec, type VariableSpec } from '../maps/spec.js';
import { parseStructOpsMaps } from './struct-ops.js';
import { dataMapName, fixupDatasecs, objectName, parseDataSections, type SpecReader } from './spec-data.js';
import { parseBtfMaps, parseLegacyMaps } from './spec-maps.js';

export { dataMapName, objectName } from './spec-data.js';

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
  /** false for a `?`-prefixed section (libbpf): parsed, loaded only when autoload is turned on. */
  autoload: boolean;
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

/**
 * @throws {@link ElfError} when the bytes are not a well-formed ELF file; {@link SpecError} for a malformed BPF object (sections, maps, relocations);
 * @throws {@link BtfError} for malformed .BTF / .BTF.ext.
 */
export function parseObject(bytes: Uint8Array, opts: ParseOptions = {}): ObjectSpec {
  const file = opts.file ?? '<object>';
  const elf = parseElf(bytes, file);
  return new ObjectParser(elf, file).parse();
}

class ObjectParser implements SpecReader {
  btf?: Btf;
  private ext?: BtfExt;
  readonly objName: string;

  constructor(
    readonly elf: ElfFile,
    readonly file: string,
  ) {
    this.objName = objectName(file);
  }

  /**
   * libbpf's mark_btf_static: a global subprogram of hidden or internal visibility (e.g. a
   * `__hidden` function of a statically linked object) gets a static BTF FUNC, so the verifier
   * checks it with its caller's context instead of as a global function (which must return a scalar).
   */
  private markBtfStatic(name: string): void {
    const t = this.btf?.types.find((x) => x.kind === BtfKind.Func && x.linkage === FUNC_GLOBAL && x.name === name);
    if (t?.kind === BtfKind.Func) t.linkage = FUNC_STATIC;
  }

  err(subject: string, defect: string): never {
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
    const dataSections = parseDataSections(this);
    if (this.btf) fixupDatasecs(this, dataSections);
    const maps: MapSpec[] = [...parseBtfMaps(this), ...parseLegacyMaps(this), ...parseStructOpsMaps(this.elf, this.btf, this.file)];
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
        // SEC("?tp/...") (libbpf): not loaded unless autoload is turned on.
        autoload: !f.section.startsWith('?'),
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

  symbolsIn(sec: ElfSection): ElfSymbol[] {
    return this.elf.symbols.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name !== '');
  }

  datasec(name: string): DatasecType | undefined {
    return this.btf?.find(name, BtfKind.Datasec);
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
      const decl = btf?.idsByName(s.name).map((id) => btf.typeById(id)).find((t) => (t.kind === BtfKind.Func && t.linkage === FUNC_EXTERN) || (t.kind === BtfKind.Var && t.linkage === VAR_EXTERN));
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
        if (sec.name === '.text' && sym.bind !== STB_LOCAL && (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL)) this.markBtfStatic(sym.name);
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
