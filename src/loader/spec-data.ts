// Global data (.data, .bss, .rodata and their .name variants) in the object spec: each section as
// a DataSectionSpec with its variables, and the BTF DATASECs fixed up from the ELF the way libbpf
// does (clang leaves their sizes and offsets at 0). Also the reader interface the spec's parts
// share (spec.ts drives them) and libbpf's object and data-map names.
import type { Btf } from '../btf/btf.js';
import { BtfKind, type DatasecType, VAR_STATIC } from '../btf/types.js';
import { type ElfFile, type ElfSection, type ElfSymbol, SHF_ALLOC, SHF_EXECINSTR, SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_FUNC, STT_SECTION, STV_HIDDEN } from '../elf/reader.js';
import type { DataKind, DataSectionSpec, VariableSpec } from '../maps/spec.js';

/** What the parts of the spec parser read: the ELF, its BTF, and how to report a defect. */
export interface SpecReader {
  readonly elf: ElfFile;
  readonly btf?: Btf;
  readonly file: string;
  readonly objName: string;
  /** Throw a SpecError naming the subject and what is wrong with it. */
  err(subject: string, defect: string): never;
  /** The named symbols defined in a section. */
  symbolsIn(sec: ElfSection): ElfSymbol[];
  datasec(name: string): DatasecType | undefined;
}

const DATA_SECTION = /^\.(data|bss|rodata)(\..+)?$/;

/** Largest global data section we accept (the kernel's array map values are far smaller in practice). */
const MAX_DATA_SECTION = 64 << 20;

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


export function parseDataSections(rd: SpecReader): DataSectionSpec[] {
  const out: DataSectionSpec[] = [];
  const referenced = new Set<number>();
  for (const r of rd.elf.relocations.values())
    for (const rel of r.relocations) referenced.add(rd.elf.symbols[rel.symbol]!.shndx);
  for (const sec of rd.elf.sections) {
    const m = DATA_SECTION.exec(sec.name);
    if (!m || !(sec.flags & BigInt(SHF_ALLOC)) || sec.flags & BigInt(SHF_EXECINSTR)) continue;
    if (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS) continue;
    const syms = rd.symbolsIn(sec);
    // String-literal sections and the like only matter when code points into them.
    if (syms.length === 0 && !referenced.has(sec.index)) continue;
    const kind: DataKind = m[1] === 'bss' ? 'bss' : m[1] === 'rodata' ? 'rodata' : 'data';
    // A .bss is NOBITS: its size is only a number in the header, so bound it before allocating.
    if (sec.size > MAX_DATA_SECTION) rd.err(`section ${sec.name}`, `is ${sec.size} bytes; global data larger than ${MAX_DATA_SECTION} bytes cannot be one map value`);
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
      if (v.offset + v.size > sec.size) rd.err(`variable '${v.name}'`, `lies outside section ${sec.name} (${sec.size} bytes)`);
    out.push({
      section: sec.name,
      kind,
      mapName: dataMapName(rd.objName, sec.name),
      size: sec.size,
      readonly: kind === 'rodata',
      data,
      variables: vars.sort((a, b) => a.offset - b.offset),
    });
  }
  return out;
}

/** clang leaves DATASEC sizes and variable offsets at 0: fill them from the ELF (as libbpf does). */
export function fixupDatasecs(rd: SpecReader, sections: DataSectionSpec[]): void {
  const btf = rd.btf!;
  for (const t of btf.types) {
    if (t.kind !== BtfKind.Datasec) continue;
    const d = sections.find((s) => s.section === t.name);
    const sec = rd.elf.sectionByName(t.name);
    // A DATASEC with its size set was laid out by a static linker (`gen object`): two static
    // variables of one name (one per linked input) are told apart by their offsets, which stay.
    // A global takes its symbol's offset: libbpf's linker leaves an extern resolved by a later
    // input at the extern's offset (linked_maps' map2 at 0 in .maps, where libbpf 1.1 then fails
    // to open the object); the symbol, unique by name, is right.
    const laidOut = t.size !== 0;
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
        const keep = laidOut && vt.linkage === VAR_STATIC;
        const sym = rd.elf.symbols.find((s) => s.shndx === sec.index && s.name === vt.name && s.type !== STT_SECTION && (!keep || s.value === v.offset));
        if (sym) {
          v.offset = sym.value;
          // Hidden globals cannot be looked up by name from outside: treat them as static.
          if (sym.visibility === STV_HIDDEN && vt.linkage !== VAR_STATIC) vt.linkage = VAR_STATIC;
        }
      }
      if (d) {
        const sv = d.variables.find((x) => x.name === vt.name && x.offset === v.offset) ?? d.variables.find((x) => x.name === vt.name);
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
