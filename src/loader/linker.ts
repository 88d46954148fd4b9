// Static linker for BPF objects (bpftool gen object; libbpf's linker.c, in its order): sections of
// the same name appended at their alignment (license/version must agree and are kept once),
// symbols resolved (a strong definition wins over weak ones and satisfies externs, two strong
// ones conflict, hidden visibility is contagious), relocations rebased onto the merged sections
// and symbols (calls through a section symbol get the callee's new instruction index), BTF
// appended with one VAR/FUNC per global symbol and every DATASEC rebuilt at its merged offsets,
// .BTF.ext records moved with their instructions, and the merged BTF deduplicated
// (src/btf/dedup.ts, libbpf's btf__dedup) with the linker's strings in the order it added them.
// The passes share one set of per-input index maps (old section/symbol/type id → merged one).
// Reading an input is in linker-input.ts, the extern/definition BTF checks in linker-btf.ts,
// the output (string table, .BTF.ext encoder, ELF writer) in linker-elf.ts.
import { type Btf, Btf as BtfView } from '../btf/btf.js';
import { dedupBtf, typeStrings } from '../btf/dedup.js';
import { encodeBtf } from '../btf/encode.js';
import { BtfKind, type BtfType, FUNC_GLOBAL, FUNC_STATIC, VAR_GLOBAL, VAR_STATIC, withTypeIds } from '../btf/types.js';
import { type ElfSymbol, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_REL, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_SECTION } from '../elf/reader.js';
import { btfMatches, mapDefsMatch, StaticLinkError } from './linker-btf.js';
import { readInput, type SrcObj, type SrcSec, srcSection } from './linker-input.js';
import { type DstSec, type DstSym, encodeExt, Strings, writeElf } from './linker-elf.js';

const SHF_EXECINSTR = 0x4n;
const BPF_JMP_CALL = 0x85;

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
    const obj = readInput(file, bytes);
    this.appendSecData(obj);
    this.appendSyms(obj);
    this.appendRelos(obj);
    this.appendBtf(obj);
    this.appendBtfExt(obj);
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
            throw new StaticLinkError(`${obj.file}: non-identical contents of section '${s.name}' are not supported`);
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
    if (d.type !== e.type || d.flags !== e.flags || d.entsize !== e.entsize) throw new StaticLinkError(`ELF sections ${s.name} are incompatible (type, flags or entry size differ)`);
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
        if (btfId && btfId !== vi.type) throw new StaticLinkError(`${obj.file}: global/extern '${name}' BTF is ambiguous: both types #${btfId} and #${vi.type} match`);
        return { secId: i, btfId: vi.type };
      }
    }
    if (btfId) return { secId: 0, btfId };
    throw new StaticLinkError(`${obj.file}: failed to find BTF info for global/extern symbol '${name}'`);
  }

  private appendSyms(obj: SrcObj): void {
    for (const sym of obj.elf.symbols) if (sym.index > 0) this.appendSym(obj, sym);
  }

  private appendSym(obj: SrcObj, sym: ElfSymbol): void {
    const isExtern = sym.shndx === SHN_UNDEF;
    let src: SrcSec | undefined;
    let dst: DstSec | undefined;
    if (isExtern) {
      if (!obj.btf) throw new StaticLinkError(`${obj.file}: externs without BTF info are not supported ('${sym.name}')`);
    } else if (sym.shndx < SHN_LORESERVE) {
      src = obj.secs[sym.shndx];
      if (!src) throw new StaticLinkError(`${obj.file}: symbol '${sym.name}' is in section #${sym.shndx}, which does not exist`);
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
          src = srcSection(obj, secName);
          if (!src) throw new StaticLinkError(`${obj.file}: failed to find matching ELF sec '${secName}'`);
          dst = this.sec(src.dstId);
        }
      }
      const glob = this.globs.get(sym.name);
      if (glob) {
        obj.symMap[sym.index] = glob.symIdx;
        if (!isExtern && !glob.isExtern && !glob.isWeak && sym.bind !== STB_WEAK) throw new StaticLinkError(`conflicting non-weak symbol #${sym.index} (${sym.name}) definition in '${obj.file}'`);
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
    if (!glob.btfId || !btfId) throw new StaticLinkError(`BTF info is missing for global symbol '${name}' (${obj.file})`);
    const a = this.types[glob.btfId]!;
    const b = obj.btf!.typeById(btfId);
    if (b.kind !== BtfKind.Var && b.kind !== BtfKind.Func) throw new StaticLinkError(`${obj.file}: only extern variables and functions are supported, but got kind ${b.kind} for '${name}'`);
    if (a.kind !== b.kind) throw new StaticLinkError(`global '${name}': incompatible BTF kinds ${a.kind === BtfKind.Func ? 'FUNC' : 'VAR'} and ${b.kind === BtfKind.Func ? 'FUNC' : 'VAR'} in '${obj.file}'`);
    const look1 = (id: number) => this.types[id];
    const look2 = (id: number) => obj.btf!.typeById(id);
    const why =
      glob.secId && this.sec(glob.secId).name === '.maps'
        ? mapDefsMatch(
            name, look1, (a as { type: number }).type, (id) => this.sizeOf(id), look2, (b as { type: number }).type, (id) => obj.btf!.sizeof(id))
        : btfMatches(true, look1, glob.btfId, look2, btfId);
    if (why) throw new StaticLinkError(`global '${name}': ${why} in '${obj.file}'`);
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
      if (!target) throw new StaticLinkError(`${obj.file}: relocation section ${s.name} patches section #${s.elf!.info}, which does not exist`);
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
        if (!srcSym) throw new StaticLinkError(`${obj.file}: relocation in ${s.name} refers to symbol #${symIdx}, which does not exist`);
        const off = Number(dv.getBigUint64(at, true)) + target.dstOff;
        dv.setBigUint64(at, BigInt(off), true);
        dv.setBigUint64(at + 8, (BigInt(obj.symMap[symIdx] ?? 0) << 32n) | BigInt(type), true);
        if (srcSym.type === STT_SECTION) {
          if (!(target.elf!.flags & SHF_EXECINSTR)) throw new StaticLinkError(`${obj.file}: relocation against STT_SECTION in non-exec section ${target.name} is not supported`);
          if (off + 8 > dt.size) throw new StaticLinkError(`${obj.file}: relocation in ${s.name} at ${off} is outside ${target.name}`);
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
      if (id !== 0 && !map[id]) throw new StaticLinkError(`${obj.file}: failed to find new ID mapping for original BTF type ID ${id}`);
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
          if (glob.secId !== d.id) throw new StaticLinkError(`global '${vt.name}': section mismatch ${glob.secId} vs ${d.id}`);
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
      const s = srcSection(obj, name);
      if (!s) throw new StaticLinkError(`${obj.file}: can't find section '${name}' referenced from .BTF.ext`);
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

/** Link `inputs` (file name and bytes, in command-line order) into one relocatable BPF object. */
export function linkObjects(inputs: readonly { file: string; bytes: Uint8Array }[]): Uint8Array {
  const l = new Linker();
  for (const i of inputs) l.add(i.file, i.bytes);
  return l.finish();
}
