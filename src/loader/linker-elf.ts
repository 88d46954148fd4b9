// The static linker's output (libbpf's linker.c, finalize and write): the merged object's
// sections and symbols as linker.ts builds them, the string table, the .BTF.ext encoder and the
// ELF writer (sections at their alignment, then the section headers).
import type { DedupResult } from '../btf/dedup.js';
import { SHT_NOBITS, SHT_PROGBITS, SHT_STRTAB, SHT_SYMTAB } from '../elf/reader.js';

export interface ExtRecs {
  func: { insnOff: number; typeId: number }[];
  line: { insnOff: number; file: string; line: string; lineCol: number }[];
  core: { insnOff: number; typeId: number; access: string; kind: number }[];
}

export interface DstSec {
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

export interface DstSym {
  name: string;
  bind: number;
  type: number;
  other: number;
  shndx: number;
  value: number;
  size: number;
}

/** What writeElf reads of the linker: its merged sections and symbols with their names in .strtab. */
export interface MergedObject {
  readonly strtab: Strings;
  readonly secs: readonly DstSec[];
  readonly secName: ReadonlyMap<DstSec, number>;
  readonly symName: readonly number[];
  readonly syms: readonly DstSym[];
}

export class Strings {
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

export function encodeExt(secs: DstSec[], d: DedupResult): Uint8Array {
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

export function writeElf(l: MergedObject, extra: { name: string; data: Uint8Array }[]): Uint8Array {
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
