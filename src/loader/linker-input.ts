// The static linker's input side (libbpf's linker.c, linker_load_obj_file and
// linker_fixup_btf): one object read, its sections sorted into the ones the linker merges and
// the ones it drops or rebuilds (symbol and string tables, DWARF, address-significance tables,
// .BTF and .BTF.ext, which are parsed), and its BTF's DATASEC sizes and global offsets filled in
// from the ELF, with a BTF-only (ephemeral) section for each DATASEC that has no ELF section.
import { type Btf, parseBtf } from '../btf/btf.js';
import { type BtfExt, parseBtfExt } from '../btf/ext.js';
import { BtfKind, VAR_GLOBAL } from '../btf/types.js';
import { type ElfFile, type ElfSection, parseElf, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB } from '../elf/reader.js';
import { StaticLinkError } from './linker-btf.js';

const SHT_LLVM_ADDRSIG = 0x6fff4c03;

/** An input section: where it went in the merged object (dstId, dstOff), or skipped. */
export interface SrcSec {
  name: string;
  elf?: ElfSection;
  ephemeral: boolean;
  skipped: boolean;
  dstId: number;
  dstOff: number;
  btfTypeId: number;
}

/** An input object, and its old → merged symbol and type ids once its passes ran. */
export interface SrcObj {
  file: string;
  elf: ElfFile;
  secs: SrcSec[];
  btf?: Btf;
  ext?: BtfExt;
  symMap: number[];
  typeMap: number[];
}

const isDwarf = (n: string) => n.startsWith('.debug_');

/** linker_load_obj_file: parse one input and classify its sections. */
export function readInput(file: string, bytes: Uint8Array): SrcObj {
  const elf = parseElf(bytes, file);
  if (!elf.littleEndian) throw new StaticLinkError(`${file}: big-endian objects are not supported (libbpf's linker links host-order objects only)`);
  const obj: SrcObj = { file, elf, secs: [], symMap: [], typeMap: [] };
  let symtabs = 0;
  for (const e of elf.sections) {
    const s: SrcSec = { name: e.name, elf: e, ephemeral: false, skipped: false, dstId: 0, dstOff: 0, btfTypeId: 0 };
    obj.secs.push(s);
    if (e.index === 0) {
      s.skipped = true;
      continue;
    }
    const relOf = e.name.startsWith('.rel') ? e.name.slice(4) : undefined;
    if (
      e.type === SHT_STRTAB ||
      e.type === SHT_LLVM_ADDRSIG ||
      (e.type === SHT_PROGBITS && e.size === 0 && e.name === '.text') ||
      isDwarf(e.name) ||
      (relOf !== undefined && (isDwarf(relOf) || relOf === '.BTF' || relOf === '.BTF.ext'))
    ) {
      s.skipped = true;
      continue;
    }
    if (e.type === SHT_SYMTAB) {
      if (++symtabs > 1) throw new StaticLinkError(`${file}: multiple SYMTAB sections found, not supported`);
      s.skipped = true;
    } else if (e.type === SHT_PROGBITS && (e.name === '.BTF' || e.name === '.BTF.ext')) {
      s.skipped = true;
      if (e.name === '.BTF') obj.btf = parseBtf(e.data, { file: `${file} (.BTF)` });
    } else if (e.type !== SHT_PROGBITS && e.type !== SHT_NOBITS && e.type !== SHT_REL) {
      throw new StaticLinkError(`${file}: unrecognized section #${e.index} (${e.name})`);
    }
  }
  const extSec = elf.sectionByName('.BTF.ext');
  if (extSec && obj.btf) obj.ext = parseBtfExt(extSec.data, obj.btf, `${file} (.BTF.ext)`);
  fixupBtf(obj);
  return obj;
}

/** An input section by name (not the null section). */
export function srcSection(obj: SrcObj, name: string): SrcSec | undefined {
  return obj.secs.find((s, i) => i > 0 && s.name === name);
}

/** linker_fixup_btf: DATASEC sizes and global variable offsets from the ELF; ephemeral sections for BTF-only ones. */
function fixupBtf(obj: SrcObj): void {
  const btf = obj.btf;
  if (!btf) return;
  const types = btf.types;
  for (let i = 1; i < types.length; i++) {
    const t = types[i]!;
    if (t.kind !== BtfKind.Datasec) continue;
    let sec = srcSection(obj, t.name);
    if (sec) {
      if (sec.elf) t.size = sec.elf.size;
    } else {
      if (t.name === '.extern') continue;
      sec = { name: t.name, ephemeral: true, skipped: false, dstId: 0, dstOff: 0, btfTypeId: 0 };
      obj.secs.push(sec);
    }
    sec.btfTypeId = i;
    for (const vi of t.vars) {
      const vt = types[vi.type]!;
      if (vt.kind !== BtfKind.Var || vt.linkage !== VAR_GLOBAL) continue;
      const idx = sec.elf?.index ?? 0;
      const sym = obj.elf.symbols.find((s) => s.shndx === idx && s.type === 1 && s.name === vt.name);
      if (!sym) throw new StaticLinkError(`${obj.file}: failed to find symbol for variable '${vt.name}' in section '${t.name}'`);
      vi.offset = sym.value;
    }
  }
}
