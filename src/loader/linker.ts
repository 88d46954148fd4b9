// Static linker for BPF objects (bpftool gen object; libbpf's linker.c, in its order): sections of
// the same name appended at their alignment (license/version must agree and are kept once),
// symbols resolved (a strong definition wins over weak ones and satisfies externs, two strong
// ones conflict, hidden visibility is contagious), relocations rebased onto the merged sections
// and symbols (calls through a section symbol get the callee's new instruction index), BTF
// appended with one VAR/FUNC per global symbol and every DATASEC rebuilt at its merged offsets,
// .BTF.ext records moved with their instructions. Unlike libbpf, the merged BTF is not
// deduplicated (identical types stay once per input; the kernel and loaders accept that).
// One file on purpose (~670 lines): its passes (sections, symbols, relocations, BTF, .BTF.ext)
// share one set of per-input index maps (old section/symbol/type id → merged one); split apart,
// each file would take and return those tables, and libbpf's linker.c is read in this order too.
import { type Btf, Btf as BtfView, parseBtf } from '../btf/btf.js';
import { dedupBtf, type DedupResult, typeStrings } from '../btf/dedup.js';
import { encodeBtf } from '../btf/encode.js';
import { type BtfExt, parseBtfExt } from '../btf/ext.js';
import { BtfKind, type BtfType, FUNC_GLOBAL, FUNC_STATIC, VAR_GLOBAL, VAR_STATIC, withTypeIds } from '../btf/types.js';
import { BeeTsError } from '../errors.js';
import { type ElfFile, type ElfSection, type ElfSymbol, parseElf, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_REL, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_SECTION } from '../elf/reader.js';

export class LinkError extends BeeTsError {
  constructor(message: string) {
    super('LINK', message);
  }
}

const SHT_LLVM_ADDRSIG = 0x6fff4c03;
const SHF_EXECINSTR = 0x4n;
const BPF_JMP_CALL = 0x85;

interface ExtRecs {
  func: { insnOff: number; typeId: number }[];
  line: { insnOff: number; file: string; line: string; lineCol: number }[];
  core: { insnOff: number; typeId: number; access: string; kind: number }[];
}

interface DstSec {
  id: number;
  name: string;
  /** ELF section index; 0 while ephemeral (.kconfig, .ksyms: BTF only). */
  index: number;
  ephemeral: boolean;
  type: number;
  flags: bigint;
  addralign: number;
  entsize: number;
  link: number;
  info: number;
  data: Uint8Array;
  size: number;
  secSym: number;
  hasBtf: boolean;
  vars: { type: number; offset: number; size: number }[];
  ext: ExtRecs;
}

interface SrcSec {
  name: string;
  elf?: ElfSection;
  ephemeral: boolean;
  skipped: boolean;
  dstId: number;
  dstOff: number;
  btfTypeId: number;
}

interface DstSym {
  name: string;
  bind: number;
  type: number;
  other: number;
  shndx: number;
  value: number;
  size: number;
}

interface GlobSym {
  symIdx: number;
  secId: number;
  btfId: number;
  /** The VAR's/FUNC's type: > 0 final, < 0 a pending source type id (-id) of the current object, 0 to take it from the next. */
  underlying: number;
  isExtern: boolean;
  isWeak: boolean;
  varIdx: number;
}

interface SrcObj {
  file: string;
  elf: ElfFile;
  secs: SrcSec[];
  btf?: Btf;
  ext?: BtfExt;
  symMap: number[];
  typeMap: number[];
}

const isDwarf = (n: string) => n.startsWith('.debug_');

class Linker {
  readonly secs: DstSec[] = [];
  readonly syms: DstSym[] = [{ name: '', bind: 0, type: 0, other: 0, shndx: 0, value: 0, size: 0 }];
  readonly globs = new Map<string, GlobSym>();
  /** Merged BTF types (index = id; 0 is void). */
  readonly types: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }];
  private elfCount = 3; // null, .strtab, .symtab
  /** .strtab (section and symbol names), filled in libbpf's order: as sections and symbols are added. */
  readonly strtab = new Strings();
  readonly secName = new Map<DstSec, number>();
  readonly symName: number[] = [0];
  /** The merged .BTF's strings, in the order libbpf's linker adds them. */
  readonly btfStrs = new Strings();

  constructor() {
    this.strtab.add('.strtab');
    this.strtab.add('.symtab');
  }

  private newSec(name: string, src: SrcSec): DstSec {
    const s: DstSec = { id: this.secs.length + 3, name, index: 0, ephemeral: true, type: 0, flags: 0n, addralign: 0, entsize: 0, link: 0, info: 0, data: new Uint8Array(0), size: 0, secSym: 0, hasBtf: false, vars: [], ext: { func: [], line: [], core: [] } };
    this.secs.push(s);
    this.initSec(s, src);
    return s;
  }

  private initSec(d: DstSec, src: SrcSec): void {
    d.size = 0;
    d.ephemeral = src.ephemeral;
    if (src.ephemeral) return;
    const e = src.elf!;
    d.index = this.elfCount++;
    this.secName.set(d, this.strtab.add(d.name));
    d.type = e.type;
    d.flags = e.flags;
    d.addralign = e.addralign;
    d.entsize = e.entsize;
  }

  sec(id: number): DstSec {
    return this.secs[id - 3]!;
  }

  private byName(name: string): DstSec | undefined {
    return this.secs.find((s) => s.name === name);
  }

  private extend(d: DstSec, src: SrcSec): void {
    if (src.ephemeral) return;
    if (d.ephemeral) this.initSec(d, src);
    const e = src.elf!;
    let align = d.addralign || 1;
    if (align < e.addralign) align = e.addralign;
    const at = Math.ceil(d.size / align) * align;
    const end = at + e.size;
    if (e.type !== SHT_NOBITS) {
      const data = new Uint8Array(end);
      data.set(d.data.subarray(0, d.size));
      data.set(e.data, at);
      d.data = data;
    }
    d.size = end;
    d.addralign = align;
    src.dstOff = at;
  }

  add(file: string, bytes: Uint8Array): void {
    const elf = parseElf(bytes, file);
    if (!elf.littleEndian) throw new LinkError(`${file}: big-endian objects are not supported (libbpf's linker links host-order objects only)`);
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
        if (++symtabs > 1) throw new LinkError(`${file}: multiple SYMTAB sections found, not supported`);
        s.skipped = true;
      } else if (e.type === SHT_PROGBITS && (e.name === '.BTF' || e.name === '.BTF.ext')) {
        s.skipped = true;
        if (e.name === '.BTF') obj.btf = parseBtf(e.data, { file: `${file} (.BTF)` });
      } else if (e.type !== SHT_PROGBITS && e.type !== SHT_NOBITS && e.type !== SHT_REL) {
        throw new LinkError(`${file}: unrecognized section #${e.index} (${e.name})`);
      }
    }
    const extSec = elf.sectionByName('.BTF.ext');
    if (extSec && obj.btf) obj.ext = parseBtfExt(extSec.data, obj.btf, `${file} (.BTF.ext)`);
    this.fixupBtf(obj);
    this.appendSecData(obj);
    this.appendSyms(obj);
    this.appendRelos(obj);
    this.appendBtf(obj);
    this.appendBtfExt(obj);
  }

  private srcByName(obj: SrcObj, name: string): SrcSec | undefined {
    return obj.secs.find((s, i) => i > 0 && s.name === name);
  }

  /** linker_fixup_btf: DATASEC sizes and global variable offsets from the ELF; ephemeral sections for BTF-only ones. */
  private fixupBtf(obj: SrcObj): void {
    const btf = obj.btf;
    if (!btf) return;
    const types = btf.types;
    for (let i = 1; i < types.length; i++) {
      const t = types[i]!;
      if (t.kind !== BtfKind.Datasec) continue;
      let sec = this.srcByName(obj, t.name);
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
        if (!sym) throw new LinkError(`${obj.file}: failed to find symbol for variable '${vt.name}' in section '${t.name}'`);
        vi.offset = sym.value;
      }
    }
  }

  private isData(s: SrcSec): boolean {
    if (s.skipped) return false;
    if (s.ephemeral) return true;
    return s.elf!.type === SHT_PROGBITS || s.elf!.type === SHT_NOBITS;
  }

  private appendSecData(obj: SrcObj): void {
    for (let i = 1; i < obj.secs.length; i++) {
      const s = obj.secs[i]!;
      if (!this.isData(s)) continue;
      let d = this.byName(s.name);
      if (!d) d = this.newSec(s.name, s);
      else {
        this.checkMatch(d, s);
        if (s.name === 'license' || s.name === 'version') {
          if (d.size !== s.elf!.size || Buffer.compare(Buffer.from(d.data.subarray(0, d.size)), Buffer.from(s.elf!.data)) !== 0)
            throw new LinkError(`${obj.file}: non-identical contents of section '${s.name}' are not supported`);
          s.skipped = true;
          s.dstId = d.id;
          continue;
        }
      }
      s.dstId = d.id;
      this.extend(d, s);
    }
  }

  private checkMatch(d: DstSec, s: SrcSec): void {
    if (d.ephemeral || s.ephemeral) return;
    const e = s.elf!;
    if (d.type !== e.type || d.flags !== e.flags || d.entsize !== e.entsize) throw new LinkError(`ELF sections ${s.name} are incompatible (type, flags or entry size differ)`);
  }

  private findGlobBtf(obj: SrcObj, name: string): { secId: number; btfId: number } {
    const btf = obj.btf!;
    const types = btf.types;
    let btfId = 0;
    const nonStatic = (t: BtfType) => (t.kind === BtfKind.Var && t.linkage !== VAR_STATIC) || (t.kind === BtfKind.Func && t.linkage !== FUNC_STATIC);
    for (let i = 1; i < types.length; i++) {
      const t = types[i]!;
      if (nonStatic(t)) {
        if (t.name === name) btfId = i;
        continue;
      }
      if (t.kind !== BtfKind.Datasec) continue;
      for (const vi of t.vars) {
        const vt = types[vi.type]!;
        if (vt.name !== name || !nonStatic(vt)) continue;
        if (btfId && btfId !== vi.type) throw new LinkError(`${obj.file}: global/extern '${name}' BTF is ambiguous: both types #${btfId} and #${vi.type} match`);
        return { secId: i, btfId: vi.type };
      }
    }
    if (btfId) return { secId: 0, btfId };
    throw new LinkError(`${obj.file}: failed to find BTF info for global/extern symbol '${name}'`);
  }

  private appendSyms(obj: SrcObj): void {
    for (const sym of obj.elf.symbols) if (sym.index > 0) this.appendSym(obj, sym);
  }

  private appendSym(obj: SrcObj, sym: ElfSymbol): void {
    const isExtern = sym.shndx === SHN_UNDEF;
    let src: SrcSec | undefined;
    let dst: DstSec | undefined;
    if (isExtern) {
      if (!obj.btf) throw new LinkError(`${obj.file}: externs without BTF info are not supported ('${sym.name}')`);
    } else if (sym.shndx < SHN_LORESERVE) {
      src = obj.secs[sym.shndx];
      if (!src) throw new LinkError(`${obj.file}: symbol '${sym.name}' is in section #${sym.shndx}, which does not exist`);
      if (src.skipped) return;
      dst = this.sec(src.dstId);
      if (sym.type === STT_SECTION && dst.secSym) {
        obj.symMap[sym.index] = dst.secSym;
        return;
      }
    }
    let btfId = 0;
    if (sym.bind !== STB_LOCAL) {
      const g = this.findGlobBtf(obj, sym.name);
      btfId = g.btfId;
      if (isExtern && g.secId) {
        const secName = obj.btf!.typeById(g.secId).name;
        if (secName !== '.extern') {
          src = this.srcByName(obj, secName);
          if (!src) throw new LinkError(`${obj.file}: failed to find matching ELF sec '${secName}'`);
          dst = this.sec(src.dstId);
        }
      }
      const glob = this.globs.get(sym.name);
      if (glob) {
        obj.symMap[sym.index] = glob.symIdx;
        if (!isExtern && !glob.isExtern && !glob.isWeak && sym.bind !== STB_WEAK) throw new LinkError(`conflicting non-weak symbol #${sym.index} (${sym.name}) definition in '${obj.file}'`);
        this.checkGlobMatch(sym.name, glob, obj, btfId);
        const d = this.syms[glob.symIdx]!;
        if (sym.bind === STB_GLOBAL) {
          d.bind = STB_GLOBAL;
          glob.isWeak = false;
        }
        if (sym.visibility > d.other) d.other = sym.visibility;
        if (isExtern) return;
        if (!glob.isExtern && sym.bind === STB_WEAK) return;
        d.type = sym.type;
        d.shndx = dst!.index;
        d.value = src!.dstOff + sym.value;
        d.size = sym.size;
        glob.secId = dst!.id;
        glob.isExtern = false;
        this.completeExtern(glob.btfId, obj.btf!, btfId);
        glob.underlying = 0;
        return;
      }
    }
    const idx = this.syms.length;
    this.symName.push(this.strtab.add(sym.name));
    this.syms.push({ name: sym.name, bind: sym.bind, type: sym.type, other: sym.visibility, shndx: dst ? dst.index : sym.shndx, value: (src ? src.dstOff : 0) + sym.value, size: sym.size });
    obj.symMap[sym.index] = idx;
    if (sym.type === STT_SECTION && dst) {
      dst.secSym = idx;
      this.syms[idx]!.value = 0;
    }
    if (sym.bind !== STB_LOCAL) this.globs.set(sym.name, { symIdx: idx, secId: dst ? dst.id : 0, btfId: 0, underlying: 0, isExtern, isWeak: sym.bind === STB_WEAK, varIdx: -1 });
  }

  /** glob_syms_match: both sides have BTF and are VARs or FUNCs whose types agree (maps: kinds only). */
  private checkGlobMatch(name: string, glob: GlobSym, obj: SrcObj, btfId: number): void {
    if (!glob.btfId || !btfId) throw new LinkError(`BTF info is missing for global symbol '${name}' (${obj.file})`);
    const a = this.types[glob.btfId]!;
    const b = obj.btf!.typeById(btfId);
    if (b.kind !== BtfKind.Var && b.kind !== BtfKind.Func) throw new LinkError(`${obj.file}: only extern variables and functions are supported, but got kind ${b.kind} for '${name}'`);
    if (a.kind !== b.kind) throw new LinkError(`global '${name}': incompatible BTF kinds ${a.kind === BtfKind.Func ? 'FUNC' : 'VAR'} and ${b.kind === BtfKind.Func ? 'FUNC' : 'VAR'} in '${obj.file}'`);
    const look1 = (id: number) => this.types[id];
    const look2 = (id: number) => obj.btf!.typeById(id);
    const why =
      glob.secId && this.sec(glob.secId).name === '.maps'
        ? mapDefsMatch(
            name, look1, (a as { type: number }).type, (id) => this.sizeOf(id), look2, (b as { type: number }).type, (id) => obj.btf!.sizeof(id))
        : btfMatches(true, look1, glob.btfId, look2, btfId);
    if (why) throw new LinkError(`global '${name}': ${why} in '${obj.file}'`);
  }

  /** complete_extern_btf_info: the extern's VAR/FUNC becomes the definition's (global, argument names filled in). */
  private completeExtern(dstId: number, srcBtf: Btf, srcId: number): void {
    if (!dstId) return;
    const d = this.types[dstId]!;
    if (d.kind === BtfKind.Var) {
      d.linkage = VAR_GLOBAL;
      return;
    }
    if (d.kind !== BtfKind.Func) return;
    d.linkage = FUNC_GLOBAL;
    const s = srcBtf.typeById(srcId);
    if (s.kind !== BtfKind.Func) return;
    const sp = srcBtf.typeById(s.type);
    const dp = this.types[d.type];
    if (sp.kind !== BtfKind.FuncProto || dp?.kind !== BtfKind.FuncProto) return;
    for (const p of sp.params) if (p.name) this.btfStrs.add(p.name);
    dp.params = dp.params.map((p, i) => (sp.params[i]?.name ? { ...p, name: sp.params[i]!.name } : p));
  }

  private appendRelos(obj: SrcObj): void {
    for (let i = 1; i < obj.secs.length; i++) {
      const s = obj.secs[i]!;
      if (s.skipped || s.ephemeral || s.elf!.type !== SHT_REL) continue;
      const target = obj.secs[s.elf!.info];
      if (!target) throw new LinkError(`${obj.file}: relocation section ${s.name} patches section #${s.elf!.info}, which does not exist`);
      if (target.skipped) continue;
      let d = this.byName(s.name);
      if (!d) d = this.newSec(s.name, s);
      else this.checkMatch(d, s);
      const dt = this.sec(target.dstId);
      d.link = 2;
      d.info = dt.index;
      s.dstId = d.id;
      this.extend(d, s);
      const dv = new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength);
      const tv = new DataView(dt.data.buffer, dt.data.byteOffset, dt.data.byteLength);
      const n = Math.floor(s.elf!.size / 16);
      for (let j = 0; j < n; j++) {
        const at = s.dstOff + j * 16;
        const info = dv.getBigUint64(at + 8, true);
        const symIdx = Number(info >> 32n);
        const type = Number(info & 0xffffffffn);
        const srcSym = obj.elf.symbols[symIdx];
        if (!srcSym) throw new LinkError(`${obj.file}: relocation in ${s.name} refers to symbol #${symIdx}, which does not exist`);
        const off = Number(dv.getBigUint64(at, true)) + target.dstOff;
        dv.setBigUint64(at, BigInt(off), true);
        dv.setBigUint64(at + 8, (BigInt(obj.symMap[symIdx] ?? 0) << 32n) | BigInt(type), true);
        if (srcSym.type === STT_SECTION) {
          if (!(target.elf!.flags & SHF_EXECINSTR)) throw new LinkError(`${obj.file}: relocation against STT_SECTION in non-exec section ${target.name} is not supported`);
          if (off + 8 > dt.size) throw new LinkError(`${obj.file}: relocation in ${s.name} at ${off} is outside ${target.name}`);
          const sec = obj.secs[srcSym.shndx]!;
          const imm = tv.getInt32(off + 4, true);
          tv.setInt32(off + 4, imm + (dt.data[off] === BPF_JMP_CALL ? sec.dstOff / 8 : sec.dstOff), true);
        }
      }
    }
  }

  private appendBtf(obj: SrcObj): void {
    const btf = obj.btf;
    if (!btf) return;
    const src = btf.types;
    const start = this.types.length;
    const map = new Array<number>(src.length).fill(0);
    const nonStatic = (t: BtfType) => (t.kind === BtfKind.Var && t.linkage !== VAR_STATIC) || (t.kind === BtfKind.Func && t.linkage !== FUNC_STATIC);
    for (let i = 1; i < src.length; i++) {
      const t = src[i]!;
      if (t.kind === BtfKind.Datasec) continue;
      let glob: GlobSym | undefined;
      if (nonStatic(t)) {
        glob = this.globs.get(t.name);
        if (!glob) continue;
        if (glob.underlying === 0) glob.underlying = -(t as { type: number }).type;
        if (glob.btfId) {
          map[i] = glob.btfId;
          continue;
        }
      }
      const id = this.types.length;
      this.types.push({ ...t, id });
      for (const str of typeStrings(t)) this.btfStrs.add(str);
      map[i] = id;
      if (glob) {
        glob.btfId = id;
        glob.underlying = -(t as { type: number }).type;
      }
    }
    const re = (id: number) => {
      if (id !== 0 && !map[id]) throw new LinkError(`${obj.file}: failed to find new ID mapping for original BTF type ID ${id}`);
      return map[id] ?? 0;
    };
    for (let i = start; i < this.types.length; i++) this.types[i] = withTypeIds(this.types[i]!, re);
    for (const g of this.globs.values()) {
      if (g.underlying >= 0) continue;
      g.underlying = map[-g.underlying] ?? 0;
      (this.types[g.btfId] as { type: number }).type = g.underlying;
    }
    obj.typeMap = map;
    for (let i = 1; i < obj.secs.length; i++) {
      const s = obj.secs[i]!;
      if (!s.btfTypeId || s.skipped) continue;
      const d = this.sec(s.dstId);
      d.hasBtf = true;
      const t = src[s.btfTypeId]!;
      if (t.kind !== BtfKind.Datasec) continue;
      for (const v of t.vars) {
        const newId = map[v.type] ?? 0;
        const vt = this.types[newId]!;
        let glob: GlobSym | undefined;
        if (nonStatic(vt)) {
          glob = this.globs.get(vt.name)!;
          if (glob.secId !== d.id) throw new LinkError(`global '${vt.name}': section mismatch ${glob.secId} vs ${d.id}`);
        }
        if (glob && glob.varIdx >= 0) {
          d.vars[glob.varIdx]!.size = this.sizeOf(glob.underlying);
          continue;
        }
        d.vars.push({ type: newId, size: v.size, offset: s.dstOff + v.offset });
        if (glob) glob.varIdx = d.vars.length - 1;
      }
    }
  }

  private sizeOf(id: number): number {
    const view = new BtfView({ types: this.types, file: 'linked BTF', littleEndian: true, firstId: 1, strings: '', stringBytes: new Uint8Array(1), baseStrLen: 0 });
    return view.sizeof(id);
  }

  private appendBtfExt(obj: SrcObj): void {
    const ext = obj.ext;
    if (!ext) return;
    const dstOf = (name: string) => {
      const s = this.srcByName(obj, name);
      if (!s) throw new LinkError(`${obj.file}: can't find section '${name}' referenced from .BTF.ext`);
      return { s, d: this.sec(s.dstId) };
    };
    const tid = (id: number) => obj.typeMap[id] ?? 0;
    for (const [name, recs] of ext.funcInfo) {
      const { s, d } = dstOf(name);
      for (const r of recs) d.ext.func.push({ insnOff: r.insnOff + s.dstOff, typeId: tid(r.typeId) });
    }
    for (const [name, recs] of ext.lineInfo) {
      const { s, d } = dstOf(name);
      for (const r of recs) {
        this.btfStrs.add(r.fileName);
        this.btfStrs.add(r.line);
      }
      for (const r of recs) d.ext.line.push({ insnOff: r.insnOff + s.dstOff, file: r.fileName, line: r.line, lineCol: ((r.lineNum << 10) | r.column) >>> 0 });
    }
    for (const [name, recs] of ext.coreRelos) {
      const { s, d } = dstOf(name);
      for (const r of recs) this.btfStrs.add(r.accessStr);
      for (const r of recs) d.ext.core.push({ insnOff: r.insnOff + s.dstOff, typeId: tid(r.typeId), access: r.accessStr, kind: r.kind });
    }
  }

  /** bpf_linker__finalize: the DATASECs, .BTF and .BTF.ext, the string and symbol tables, the ELF file. */
  finish(): Uint8Array {
    const extra: { name: string; data: Uint8Array }[] = [];
    if (this.types.length > 1) {
      const types = this.types.slice();
      for (const s of this.secs) {
        if (!s.hasBtf) continue;
        types.push({ kind: BtfKind.Datasec, id: types.length, name: s.name, size: s.size, vars: s.vars.map((v) => ({ ...v })) });
      }
      // The linker's BTF strings are unique from the start (btf__add_str), so btf__dedup keeps
      // them in the order they were added: types and .BTF.ext records object by object, then
      // the DATASEC names, then the .BTF.ext section names (finalize_btf, finalize_btf_ext).
      const withExt = this.secs.filter((s) => s.ext.func.length || s.ext.line.length || s.ext.core.length);
      for (const s of this.secs) if (s.hasBtf) this.btfStrs.add(s.name);
      for (const pick of [(s: DstSec) => s.ext.func, (s: DstSec) => s.ext.line, (s: DstSec) => s.ext.core]) for (const s of withExt) if (pick(s).length) this.btfStrs.add(s.name);
      const d = dedupBtf(types, { strings: this.btfStrs.list() });
      extra.push({ name: '.BTF', data: encodeBtf(d.types, true, d.strings) });
      if (withExt.length) extra.push({ name: '.BTF.ext', data: encodeExt(withExt, d) });
    }
    return writeElf(this, extra);
  }
}

const KIND = ['void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'];

/**
 * glob_sym_btf_matches: do an extern's and a definition's types agree? Modifiers and typedefs
 * are skipped; behind a pointer only the shape counts (a FWD matches its STRUCT/UNION, members
 * are not compared); array sizes and argument names are ignored. Returns why not, or ''.
 */
function btfMatches(exact: boolean, look1: (id: number) => BtfType | undefined, id1: number, look2: (id: number) => BtfType | undefined, id2: number): string {
  for (;;) {
    const t1 = skipMods(look1, id1);
    const t2 = skipMods(look2, id2);
    const fwd1 = t1.kind === BtfKind.Fwd;
    const fwd2 = t2.kind === BtfKind.Fwd;
    if (!exact && fwd1 !== fwd2) {
      if (t1.name !== t2.name) return `incompatible forward declaration names '${t1.name}' and '${t2.name}'`;
      const [f, c] = fwd1 ? [t1, t2] : [t2, t1];
      const union = f.kind === BtfKind.Fwd && f.union;
      if ((union && c.kind === BtfKind.Union) || (!union && c.kind === BtfKind.Struct)) return '';
      return `incompatible ${union ? 'union' : 'struct'} forward declaration and concrete kind ${KIND[c.kind]}`;
    }
    if (t1.kind !== t2.kind) return `incompatible BTF kinds ${KIND[t1.kind]} and ${KIND[t2.kind]}`;
    const named = [BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64, BtfKind.Fwd, BtfKind.Func, BtfKind.Var];
    if (named.includes(t1.kind) && t1.name !== t2.name) return `incompatible ${KIND[t1.kind]} names '${t1.name}' and '${t2.name}'`;
    switch (t1.kind) {
      case BtfKind.Void:
      case BtfKind.Fwd:
        return '';
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const s2 = (t2 as { size: number }).size;
        return t1.size === s2 ? '' : `incompatible ${KIND[t1.kind]} '${t1.name}' size ${t1.size} and ${s2}`;
      }
      case BtfKind.Ptr:
        exact = false;
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      case BtfKind.Array:
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      case BtfKind.Func:
      case BtfKind.Var: {
        const l2 = (t2 as { linkage: number }).linkage;
        if ((t1.linkage === 0) !== (l2 === 0)) return `incompatible ${KIND[t1.kind]} '${t1.name}' linkage`;
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        if (!exact) return '';
        const m2 = (t2 as typeof t1).members;
        if (t1.members.length !== m2.length) return `incompatible number of ${KIND[t1.kind]} fields ${t1.members.length} and ${m2.length}`;
        for (let i = 0; i < m2.length; i++) {
          const a = t1.members[i]!;
          const b = m2[i]!;
          if (a.name !== b.name) return `incompatible field #${i} names '${a.name}' and '${b.name}'`;
          if (a.bitOffset !== b.bitOffset || a.bitfieldSize !== b.bitfieldSize || t1.kflag !== (t2 as typeof t1).kflag) return `incompatible field #${i} ('${a.name}') offsets`;
          const why = btfMatches(exact, look1, a.type, look2, b.type);
          if (why) return why;
        }
        return '';
      }
      case BtfKind.FuncProto: {
        const p2 = (t2 as typeof t1).params;
        if (t1.params.length !== p2.length) return `incompatible number of func_proto params ${t1.params.length} and ${p2.length}`;
        for (let i = 0; i < p2.length; i++) {
          const why = btfMatches(exact, look1, t1.params[i]!.type, look2, p2[i]!.type);
          if (why) return why;
        }
        id1 = t1.returnType;
        id2 = (t2 as typeof t1).returnType;
        continue;
      }
      default:
        return `unsupported BTF kind ${KIND[t1.kind]}`;
    }
  }
}

interface MapDef {
  fields: Map<string, number>;
  keyType: number;
  valueType: number;
  inner?: MapDef;
}

const skipMods = (look: (id: number) => BtfType | undefined, id: number): BtfType => {
  for (let n = 0; n < 64; n++) {
    const t = id === 0 ? ({ kind: BtfKind.Void, id: 0, name: '' } as BtfType) : look(id);
    if (!t) throw new LinkError(`BTF type id ${id} does not exist`);
    if (t.kind !== BtfKind.Typedef && t.kind !== BtfKind.Const && t.kind !== BtfKind.Volatile && t.kind !== BtfKind.Restrict && t.kind !== BtfKind.TypeTag) return t;
    id = (t as { type: number }).type;
  }
  throw new LinkError(`BTF type id ${id}: modifier chain too long`);
};

/** parse_btf_map_def (strict), for comparing an extern map with its definition. */
function parseMapDef(name: string, look: (id: number) => BtfType | undefined, varType: number, sizeOf: (id: number) => number, inner = false): MapDef {
  const bad = (why: string): never => {
    throw new LinkError(`global '${name}': invalid map definition: ${why}`);
  };
  const def = skipMods(look, varType);
  if (def.kind !== BtfKind.Struct) return bad('not a struct');
  const out: MapDef = { fields: new Map(), keyType: 0, valueType: 0 };
  const int = (type: number, field: string): number => {
    const p = skipMods(look, type);
    const arr = p.kind === BtfKind.Ptr ? skipMods(look, p.type) : undefined;
    if (arr?.kind !== BtfKind.Array) return bad(`'${field}' is not declared with __uint()`);
    return arr.nelems;
  };
  const size = (field: string, n: number) => {
    const had = out.fields.get(field);
    if (had && had !== n) bad(`conflicting ${field} ${had} and ${n}`);
    out.fields.set(field, n);
  };
  for (const m of def.members) {
    if (m.name === 'key' || m.name === 'value') {
      const p = look(m.type);
      if (p?.kind !== BtfKind.Ptr) return bad(`'${m.name}' is not declared with __type()`);
      size(`${m.name}_size`, sizeOf(p.type));
      if (m.name === 'key') out.keyType = p.type;
      else out.valueType = p.type;
    } else if (m.name === 'key_size' || m.name === 'value_size') size(m.name, int(m.type, m.name));
    else if (m.name === 'values') {
      if (inner) bad('nested map-in-map');
      size('value_size', 4);
      const arr = look(m.type);
      const ptr = arr?.kind === BtfKind.Array ? skipMods(look, arr.type) : undefined;
      const innerId = ptr?.kind === BtfKind.Ptr ? ptr.type : -1;
      const target = innerId >= 0 ? skipMods(look, innerId) : undefined;
      if (target?.kind === BtfKind.Struct) out.inner = parseMapDef(`${name}.inner`, look, innerId, sizeOf, true);
      else if (target?.kind !== BtfKind.FuncProto) bad("'values' must point to a map definition or a function prototype");
    } else if (['type', 'max_entries', 'map_flags', 'numa_node', 'pinning', 'map_extra'].includes(m.name)) out.fields.set(m.name, int(m.type, m.name));
    else bad(`unknown attribute '${m.name}'`);
  }
  return out;
}

/** map_defs_match: an extern map's definition must repeat the definition's attributes and key/value types. Returns why not, or ''. */
function mapDefsMatch(name: string, look1: (id: number) => BtfType | undefined, t1: number, size1: (id: number) => number, look2: (id: number) => BtfType | undefined, t2: number, size2: (id: number) => number): string {
  const cmp = (a: MapDef, b: MapDef, n: string): string => {
    const f = (k: string) => (a.fields.get(k) ?? 0) === (b.fields.get(k) ?? 0);
    const why = (r: string) => `global '${n}': map ${r} mismatch`;
    if (!f('type')) return why('type');
    if (!f('key_size')) return why('key_size');
    if (!a.keyType !== !b.keyType || (a.keyType && btfMatches(true, look1, a.keyType, look2, b.keyType))) return why('key type');
    if (!f('value_size')) return why('value_size');
    if (!a.valueType !== !b.valueType || (a.valueType && btfMatches(true, look1, a.valueType, look2, b.valueType))) return why('value type');
    for (const k of ['max_entries', 'map_flags', 'numa_node', 'pinning']) if (!f(k)) return why(k);
    if (!a.inner !== !b.inner) return why('inner map');
    return a.inner && b.inner ? cmp(a.inner, b.inner, `${n}.inner`) : '';
  };
  return cmp(parseMapDef(name, look1, t1, size1), parseMapDef(name, look2, t2, size2), name);
}

class Strings {
  private readonly offs = new Map<string, number>([['', 0]]);
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private len = 1;
  add(s: string): number {
    const k = this.offs.get(s);
    if (k !== undefined) return k;
    const b = Buffer.from(`${s}\0`, 'utf8');
    this.offs.set(s, this.len);
    this.parts.push(b);
    this.len += b.length;
    return this.len - b.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
  list(): IterableIterator<string> {
    return this.offs.keys();
  }
}

function encodeExt(secs: DstSec[], d: DedupResult): Uint8Array {
  const str = (s: string) => d.stringOffset(s);
  const block = (recSize: number, pick: (s: DstSec) => number[][]) => {
    const words: number[] = [];
    for (const s of secs) {
      const recs = pick(s);
      if (!recs.length) continue;
      words.push(str(s.name), recs.length);
      for (const r of recs) words.push(...r);
    }
    return words.length ? [recSize, ...words] : [];
  };
  const func = block(8, (s) => s.ext.func.map((r) => [r.insnOff, d.typeId(r.typeId)]));
  const line = block(16, (s) => s.ext.line.map((r) => [r.insnOff, str(r.file), str(r.line), r.lineCol]));
  const core = block(16, (s) => s.ext.core.map((r) => [r.insnOff, d.typeId(r.typeId), str(r.access), r.kind]));
  const out = Buffer.alloc(32 + 4 * (func.length + line.length + core.length));
  out.writeUInt16LE(0xeb9f, 0);
  out[2] = 1;
  out.writeUInt32LE(32, 4);
  let off = 0;
  let p = 32;
  [func, line, core].forEach((w, i) => {
    out.writeUInt32LE(off, 8 + i * 8);
    out.writeUInt32LE(w.length * 4, 12 + i * 8);
    for (const x of w) {
      out.writeUInt32LE(x >>> 0, p);
      p += 4;
    }
    off += w.length * 4;
  });
  return out;
}

function writeElf(l: Linker, extra: { name: string; data: Uint8Array }[]): Uint8Array {
  const strtab = l.strtab;
  interface Out {
    name: number;
    type: number;
    flags: bigint;
    link: number;
    info: number;
    align: number;
    entsize: number;
    data: Uint8Array;
    size: number;
  }
  const real = l.secs.filter((s) => !s.ephemeral).sort((a, b) => a.index - b.index);
  const names = l.secName;
  const symNames = l.symName;
  const extraNames = extra.map((e) => strtab.add(e.name));
  const sym = Buffer.alloc(24 * l.syms.length);
  l.syms.forEach((s, i) => {
    const o = i * 24;
    sym.writeUInt32LE(symNames[i]!, o);
    sym[o + 4] = (s.bind << 4) | (s.type & 0xf);
    sym[o + 5] = s.other;
    sym.writeUInt16LE(s.shndx, o + 6);
    sym.writeBigUInt64LE(BigInt(s.value), o + 8);
    sym.writeBigUInt64LE(BigInt(s.size), o + 16);
  });
  const str = strtab.bytes();
  const out: Out[] = [
    { name: 0, type: 0, flags: 0n, link: 0, info: 0, align: 0, entsize: 0, data: new Uint8Array(0), size: 0 },
    { name: 1, type: SHT_STRTAB, flags: 0x20n, link: 0, info: 0, align: 1, entsize: 0, data: str, size: str.length },
    { name: strtab.add('.symtab'), type: SHT_SYMTAB, flags: 0n, link: 1, info: 0, align: 8, entsize: 24, data: sym, size: sym.length },
  ];
  for (const s of real) out.push({ name: names.get(s)!, type: s.type, flags: s.flags, link: s.link, info: s.info, align: s.addralign, entsize: s.entsize, data: s.type === SHT_NOBITS ? new Uint8Array(0) : s.data.subarray(0, s.size), size: s.size });
  extra.forEach((e, i) => out.push({ name: extraNames[i]!, type: SHT_PROGBITS, flags: 0n, link: 0, info: 0, align: 8, entsize: 0, data: e.data, size: e.data.length }));
  const parts: Uint8Array[] = [];
  let pos = 64;
  const offsets: number[] = [];
  for (const s of out) {
    const a = Math.max(1, s.align);
    const at = s.type === 0 ? 0 : Math.ceil(pos / a) * a;
    if (s.type !== 0 && at > pos) parts.push(new Uint8Array(at - pos));
    offsets.push(s.type === 0 ? 0 : at);
    if (s.type !== 0) {
      parts.push(s.data);
      pos = at + s.data.length;
    }
  }
  const shoff = Math.ceil(pos / 8) * 8;
  if (shoff > pos) parts.push(new Uint8Array(shoff - pos));
  const sh = Buffer.alloc(64 * out.length);
  out.forEach((s, i) => {
    const o = i * 64;
    sh.writeUInt32LE(s.name, o);
    sh.writeUInt32LE(s.type, o + 4);
    sh.writeBigUInt64LE(s.flags, o + 8);
    sh.writeBigUInt64LE(BigInt(offsets[i]!), o + 24);
    sh.writeBigUInt64LE(BigInt(s.size), o + 32);
    sh.writeUInt32LE(s.link, o + 40);
    sh.writeUInt32LE(s.info, o + 44);
    sh.writeBigUInt64LE(BigInt(s.align), o + 48);
    sh.writeBigUInt64LE(BigInt(s.entsize), o + 56);
  });
  const eh = Buffer.alloc(64);
  eh.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0);
  eh.writeUInt16LE(1, 16); // ET_REL
  eh.writeUInt16LE(247, 18); // EM_BPF
  eh.writeUInt32LE(1, 20);
  eh.writeBigUInt64LE(BigInt(shoff), 40);
  eh.writeUInt16LE(64, 52);
  eh.writeUInt16LE(64, 58);
  eh.writeUInt16LE(out.length, 60);
  eh.writeUInt16LE(1, 62);
  return new Uint8Array(Buffer.concat([eh, ...parts, sh]));
}

/** Link `inputs` (file name and bytes, in command-line order) into one relocatable BPF object. */
export function linkObjects(inputs: readonly { file: string; bytes: Uint8Array }[]): Uint8Array {
  const l = new Linker();
  for (const i of inputs) l.add(i.file, i.bytes);
  return l.finish();
}
