// ELF64 reader for relocatable BPF objects. Pure: bytes in, plain data out.
// Every offset and size read from the file is checked before use, so a malformed
// object gives an ElfError naming the file and the defect, never a RangeError.
import { BeeTsError } from '../errors.js';

export class ElfError extends BeeTsError {
  constructor(
    readonly file: string,
    readonly defect: string,
    options?: ErrorOptions,
  ) {
    super('ELF_MALFORMED', `${file}: malformed ELF: ${defect}`, options);
  }
}

export const EM_NONE = 0;
export const EM_BPF = 247;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_SYMTAB_SHNDX = 18;
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;

export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** File bytes of the section (empty for NOBITS). A view into the input, not a copy. */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  bind: number;
  type: number;
  visibility: number;
  /** Section index, or SHN_UNDEF / SHN_ABS / SHN_COMMON. */
  shndx: number;
}

export interface ElfRelocation {
  /** Byte offset inside the target section. */
  offset: number;
  symbol: number;
  type: number;
  /** Only for RELA sections; REL keeps the addend in the patched bytes. */
  addend?: bigint;
}

export interface ElfRelocationSection {
  section: ElfSection;
  target: number;
  relocations: ElfRelocation[];
}

export interface ElfFile {
  file: string;
  littleEndian: boolean;
  type: number;
  machine: number;
  flags: number;
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** REL/RELA sections keyed by the index of the section they patch. */
  relocations: Map<number, ElfRelocationSection>;
  sectionByName(name: string): ElfSection | undefined;
}

const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;
/** Bound on section count so a forged e_shnum cannot make us allocate gigabytes. */
const MAX_SECTIONS = 1 << 20;

function toSafe(file: string, v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(file, `${what} ${v} is too large`);
  return Number(v);
}

function readCString(file: string, table: Uint8Array, off: number, what: string): string {
  if (off >= table.length) {
    if (off === 0 && table.length === 0) return '';
    throw new ElfError(file, `${what}: string offset ${off} is outside its string table (${table.length} bytes)`);
  }
  let end = off;
  while (end < table.length && table[end] !== 0) end++;
  if (end === table.length) throw new ElfError(file, `${what}: string at offset ${off} is not NUL-terminated`);
  return latin1OrUtf8(table, off, end);
}

const utf8 = new TextDecoder('utf-8');
function latin1OrUtf8(b: Uint8Array, start: number, end: number): string {
  // Fast path for the usual ASCII names.
  let ascii = true;
  for (let i = start; i < end; i++) if (b[i]! >= 0x80) { ascii = false; break; }
  if (ascii) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return utf8.decode(b.subarray(start, end));
}

export interface ElfParseOptions {
  /** Accept any machine (for reading symbols of host binaries, e.g. uprobe targets). */
  anyMachine?: boolean;
  /** Read SHT_DYNSYM instead of SHT_SYMTAB. */
  dynamic?: boolean;
}

export function parseElf(bytes: Uint8Array, file = '<buffer>', opts: ElfParseOptions = {}): ElfFile {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
    throw new ElfError(file, bytes.length === 0 ? 'file is empty' : 'bad magic: not an ELF file (expected a clang -target bpf object)');
  if (bytes.length < 64) throw new ElfError(file, `file is ${bytes.length} bytes, shorter than an ELF64 header (64)`);
  if (bytes[4] !== 2) throw new ElfError(file, `ELF class ${bytes[4]} is not ELF64 (BPF objects are 64-bit)`);
  const dataEnc = bytes[5];
  if (dataEnc !== 1 && dataEnc !== 2) throw new ElfError(file, `unknown data encoding ${dataEnc}`);
  const le = dataEnc === 1;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const u64 = (o: number) => dv.getBigUint64(o, le);

  const type = u16(16);
  const machine = u16(18);
  if (!opts.anyMachine && machine !== EM_BPF && machine !== EM_NONE)
    throw new ElfError(file, `machine ${machine} is not EM_BPF (247): compile with clang -target bpf`);
  const flags = u32(48);
  const shoff = toSafe(file, u64(40), 'e_shoff');
  const shentsize = u16(58);
  let shnum = u16(60);
  let shstrndx = u16(62);
  if (shoff === 0) throw new ElfError(file, 'no section header table (e_shoff is 0)');
  if (shentsize !== SHDR_SIZE) throw new ElfError(file, `e_shentsize ${shentsize} is not ${SHDR_SIZE}`);
  const checkRange = (off: number, len: number, what: string) => {
    if (off < 0 || len < 0 || off > bytes.length || len > bytes.length - off)
      throw new ElfError(file, `${what} [${off}, +${len}) lies outside the file (${bytes.length} bytes)`);
  };
  checkRange(shoff, SHDR_SIZE, 'section header 0');
  // Extended numbering: counts that overflow 16 bits live in section 0.
  if (shnum === 0) shnum = toSafe(file, u64(shoff + 32), 'section count (sh_size of section 0)');
  if (shstrndx === SHN_XINDEX) shstrndx = u32(shoff + 40);
  if (shnum > MAX_SECTIONS) throw new ElfError(file, `section count ${shnum} is implausible`);
  checkRange(shoff, shnum * SHDR_SIZE, 'section header table');

  const raw: Omit<ElfSection, 'name'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * SHDR_SIZE;
    const stype = u32(o + 4);
    const offset = toSafe(file, u64(o + 24), `section ${i} sh_offset`);
    const size = toSafe(file, u64(o + 32), `section ${i} sh_size`);
    let data: Uint8Array;
    if (stype === SHT_NOBITS || stype === SHT_NULL) data = new Uint8Array(0);
    else {
      checkRange(offset, size, `section ${i} contents`);
      data = bytes.subarray(offset, offset + size);
    }
    nameOffs.push(u32(o));
    raw.push({
      index: i,
      type: stype,
      flags: u64(o + 8),
      addr: u64(o + 16),
      offset,
      size,
      link: u32(o + 40),
      info: u32(o + 44),
      addralign: toSafe(file, u64(o + 48), `section ${i} sh_addralign`),
      entsize: toSafe(file, u64(o + 56), `section ${i} sh_entsize`),
      data,
    });
  }
  if (shstrndx >= shnum) throw new ElfError(file, `section name table index ${shstrndx} is out of range (${shnum} sections)`);
  const shstr = raw[shstrndx]!;
  if (shstr.type !== SHT_STRTAB) throw new ElfError(file, `section name table (section ${shstrndx}) is not a string table`);
  const sections: ElfSection[] = raw.map((s, i) => ({
    ...s,
    name: i === 0 ? '' : readCString(file, shstr.data, nameOffs[i]!, `name of section ${i}`),
  }));

  // Symbol table: exactly one is expected in a relocatable object.
  const symtabs = sections.filter((s) => s.type === (opts.dynamic ? SHT_DYNSYM : SHT_SYMTAB));
  if (symtabs.length > 1) throw new ElfError(file, `${symtabs.length} symbol tables; expected one`);
  const symbols: ElfSymbol[] = [];
  const symtab = symtabs[0];
  if (symtab) {
    if (symtab.entsize !== SYM_SIZE && symtab.entsize !== 0)
      throw new ElfError(file, `symbol table entry size ${symtab.entsize} is not ${SYM_SIZE}`);
    if (symtab.size % SYM_SIZE !== 0) throw new ElfError(file, `symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`);
    if (symtab.link >= shnum || sections[symtab.link]!.type !== SHT_STRTAB)
      throw new ElfError(file, `symbol table's string table (section ${symtab.link}) is missing or not a string table`);
    const strtab = sections[symtab.link]!.data;
    const base = symtab.offset;
    const n = symtab.size / SYM_SIZE;
    for (let i = 0; i < n; i++) {
      const o = base + i * SYM_SIZE;
      const info = bytes[o + 4]!;
      const shndx = u16(o + 6);
      if (shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && shndx >= shnum)
        throw new ElfError(file, `symbol ${i} refers to section ${shndx}, beyond the ${shnum} sections`);
      symbols.push({
        index: i,
        name: readCString(file, strtab, u32(o), `name of symbol ${i}`),
        bind: info >> 4,
        type: info & 0xf,
        visibility: bytes[o + 5]! & 0x3,
        shndx,
        value: toSafe(file, u64(o + 8), `symbol ${i} value`),
        size: toSafe(file, u64(o + 16), `symbol ${i} size`),
      });
    }
  }

  const relocations = new Map<number, ElfRelocationSection>();
  for (const s of sections) {
    if (s.type !== SHT_REL && s.type !== SHT_RELA) continue;
    // Executables' dynamic relocations are not ours to interpret.
    if (opts.anyMachine) continue;
    const isRela = s.type === SHT_RELA;
    const entSize = isRela ? RELA_SIZE : REL_SIZE;
    if (s.size % entSize !== 0)
      throw new ElfError(file, `relocation section ${s.name} size ${s.size} is not a multiple of ${entSize}`);
    if (s.info >= shnum || s.info === 0)
      throw new ElfError(file, `relocation section ${s.name} targets section ${s.info}, which does not exist`);
    if (relocations.has(s.info))
      throw new ElfError(file, `section ${sections[s.info]!.name} has two relocation sections`);
    const target = sections[s.info]!;
    const rels: ElfRelocation[] = [];
    for (let o = s.offset; o < s.offset + s.size; o += entSize) {
      const offset = toSafe(file, u64(o), `relocation offset in ${s.name}`);
      const info = u64(o + 8);
      const symbol = Number(info >> 32n);
      if (symbol >= symbols.length)
        throw new ElfError(file, `relocation in ${s.name} refers to symbol ${symbol}, beyond the ${symbols.length} symbols`);
      if (target.type !== SHT_NOBITS && offset >= target.size)
        throw new ElfError(file, `relocation in ${s.name} at offset ${offset} is outside ${target.name} (${target.size} bytes)`);
      const rel: ElfRelocation = { offset, symbol, type: Number(info & 0xffffffffn) };
      if (isRela) rel.addend = dv.getBigInt64(o + 16, le);
      rels.push(rel);
    }
    relocations.set(s.info, { section: s, target: s.info, relocations: rels });
  }

  const byName = new Map<string, ElfSection>();
  for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);

  return {
    file,
    littleEndian: le,
    type,
    machine,
    flags,
    sections,
    symbols,
    relocations,
    sectionByName: (name) => byName.get(name),
  };
}
