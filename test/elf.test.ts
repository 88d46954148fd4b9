import { describe, expect, it } from 'vitest';
import { ElfError, EM_BPF, parseElf, SHT_REL, SHT_SYMTAB, STT_FUNC } from '../src/elf/reader.js';
import { ALL_OBJECTS, readFixture, thrown } from './helpers.js';

describe('ELF reader', () => {
  it.each(ALL_OBJECTS)('parses %s', (name) => {
    const elf = parseElf(readFixture(name), name);
    expect(elf.machine).toBe(EM_BPF);
    expect(elf.littleEndian).toBe(name.includes('bpfel'));
    expect(elf.sections.some((s) => s.type === SHT_SYMTAB)).toBe(true);
    expect(elf.sectionByName('.BTF')).toBeDefined();
    expect(elf.sectionByName('license')).toBeDefined();
    for (const r of elf.relocations.values()) {
      expect(r.section.type).toBe(SHT_REL);
      for (const rel of r.relocations) expect(rel.offset).toBeLessThan(elf.sections[r.target]!.size);
    }
  });

  it('reads the same sections and symbols from both byte orders', () => {
    for (const base of ['maps', 'globals', 'btf_kinds', 'bee_suffix']) {
      const le = parseElf(readFixture(`${base}.bpfel.o`));
      const be = parseElf(readFixture(`${base}.bpfeb.o`));
      expect(be.sections.map((s) => [s.name, s.size])).toEqual(le.sections.map((s) => [s.name, s.size]));
      const syms = (e: typeof le) => e.symbols.map((s) => [s.name, s.value, s.size, s.bind, s.type, s.shndx]);
      expect(syms(be)).toEqual(syms(le));
      const rels = (e: typeof le) => [...e.relocations.entries()].map(([t, r]) => [t, r.relocations.map((x) => [x.offset, x.symbol, x.type])]);
      expect(rels(be)).toEqual(rels(le));
    }
  });

  it('groups relocations by the section they patch and finds program symbols', () => {
    const elf = parseElf(readFixture('maps.bpfel.o'));
    const prog = elf.sectionByName('tracepoint/syscalls/sys_enter_openat')!;
    const rels = elf.relocations.get(prog.index)!;
    expect(rels.relocations.length).toBeGreaterThan(3);
    const names = rels.relocations.map((r) => elf.symbols[r.symbol]!.name);
    expect(names).toEqual(expect.arrayContaining(['counts', 'events', 'jumps']));
    const fn = elf.symbols.find((s) => s.name === 'count_opens')!;
    expect(fn.type).toBe(STT_FUNC);
    expect(fn.shndx).toBe(prog.index);
  });

  const base = readFixture('maps.bpfel.o');
  const mutate = (f: (b: Buffer, dv: DataView) => void) => {
    const b = Buffer.from(base);
    f(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
    return b;
  };
  const shoff = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(40, true));
  it.each([
    ['an empty file', Buffer.alloc(0), /file is empty/],
    ['a short ELF', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]), /shorter than an ELF64 header/],
    ['a text file', Buffer.from('hello world, this is not an ELF file at all, really, not at all'), /bad magic/],
    ['a 32-bit ELF', mutate((b) => (b[4] = 1)), /not ELF64/],
    ['an x86 object', mutate((_b, dv) => dv.setUint16(18, 62, true)), /not EM_BPF/],
    ['a section table past the end', mutate((b, dv) => dv.setBigUint64(40, BigInt(b.length), true)), /outside the file/],
    ['a huge section count', mutate((_b, dv) => dv.setUint16(60, 0xfff0, true)), /outside the file/],
    ['a bad name table index', mutate((_b, dv) => dv.setUint16(62, 0x7fff, true)), /out of range/],
    ['a section whose size runs past the end', mutate((_b, dv) => dv.setBigUint64(shoff + 64 * 2 + 32, 1n << 40n, true)), /outside the file/],
    ['a truncated file', base.subarray(0, base.length - 100), /outside the file/],
  ])('rejects %s with an ElfError naming the file', (_what, bytes, re) => {
    const err = thrown(() => parseElf(bytes, 'bad.o'));
    expect(err).toBeInstanceOf(ElfError);
    expect((err as Error).message).toMatch(/^bad\.o: malformed ELF: /);
    expect((err as Error).message).toMatch(re);
  });
});
