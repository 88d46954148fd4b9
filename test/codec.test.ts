// The generated record decoder (compileDecoder, the ring-buffer hot path) must equal the closure
// codec (compileCodec) on every struct type of the fixtures, for any bytes: random ints, char
// arrays with NULs anywhere, stale bytes after the NUL, non-ASCII and invalid UTF-8.
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { BtfKind } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { compileCodec } from '../src/maps/codec.js';
import { compileDecoder } from '../src/maps/decoder.js';
import { ALL_OBJECTS, readFixture } from './helpers.js';

/** A small deterministic PRNG (xorshift32), so a failure reproduces. */
function rng(seed: number) {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function fillBytes(b: Uint8Array, rand: () => number) {
  for (let i = 0; i < b.length; i++) {
    const r = rand();
    // Mostly printable ASCII (strings), some NULs, some high bytes (UTF-8 lead/continuation or junk).
    b[i] = r < 0.6 ? 0x20 + Math.floor(rand() * 95) : r < 0.8 ? 0 : Math.floor(rand() * 256);
  }
}

describe('generated decoder equals the closure codec', () => {
  it('on every struct of every little-endian fixture, at odd offsets, with random bytes', () => {
    const rand = rng(12345);
    let structs = 0;
    for (const f of ALL_OBJECTS.filter((x) => x.endsWith('.bpfel.o'))) {
      const elf = parseElf(readFixture(f), f);
      const sec = elf.sectionByName('.BTF');
      if (!sec) continue;
      const btf = parseBtf(sec.data, { file: f });
      for (const t of btf.types) {
        if (t.kind !== BtfKind.Struct || t.size === 0 || t.size > 4096) continue;
        let codec, dec;
        try {
          codec = compileCodec(btf, t.id);
          dec = compileDecoder(btf, t.id);
        } catch {
          continue; // types a codec does not cover (e.g. flexible arrays) are not records
        }
        structs++;
        for (let round = 0; round < 40; round++) {
          const pad = Math.floor(rand() * 8);
          const buf = new Uint8Array(t.size + pad + 16);
          fillBytes(buf, rand);
          const dv = new DataView(buf.buffer, 3, buf.length - 3);
          expect(dec(dv, pad), `${f} struct ${t.name} round ${round}`).toEqual(codec.decode(dv, pad));
        }
      }
    }
    expect(structs).toBeGreaterThan(10);
  });

  it('char arrays: every length 0–70, NUL at every position, the same bytes twice (cache hit)', async () => {
    // struct s { char c[n]; } for each n, in a BTF built here.
    const { encodeBtf } = await import('../src/btf/encode.js');
    for (let n = 1; n <= 70; n++) {
      const raw = encodeBtf([
        { id: 0, kind: BtfKind.Void, name: '' },
        { id: 1, kind: BtfKind.Int, name: 'char', size: 1, encoding: 1, bitOffset: 0, bits: 8 },
        { id: 2, kind: BtfKind.Int, name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
        { id: 3, kind: BtfKind.Array, name: '', type: 1, indexType: 2, nelems: n },
        { id: 4, kind: BtfKind.Struct, name: 's', size: n, kflag: false, members: [{ name: 'c', type: 3, bitOffset: 0, bitfieldSize: 0 }] },
      ] as never);
      const btf = parseBtf(raw, { file: `char${n}` });
      const dec = compileDecoder(btf, 4);
      const codec = compileCodec(btf, 4);
      const rand = rng(n);
      for (let nul = 0; nul <= n; nul++) {
        const buf = new Uint8Array(n + 8);
        fillBytes(buf, rand);
        for (let i = 0; i < n; i++) if (buf[i] === 0) buf[i] = 0x41 + (i % 26);
        if (nul < n) buf[nul] = 0;
        const dv = new DataView(buf.buffer);
        const want = codec.decode(dv, 0);
        expect(dec(dv, 0), `char[${n}] NUL at ${nul}`).toEqual(want);
        expect(dec(dv, 0)).toEqual(want); // second time from the cache
        // Stale bytes after the NUL change nothing.
        if (nul + 1 < n) {
          buf[nul + 1] ^= 0x5a;
          expect(dec(dv, 0)).toEqual(want);
        }
      }
    }
  });

  it('a full string cache never hands out a wrong string (colliding slots, shared prefixes)', async () => {
    const { encodeBtf } = await import('../src/btf/encode.js');
    const raw = encodeBtf([
      { id: 0, kind: BtfKind.Void, name: '' },
      { id: 1, kind: BtfKind.Int, name: 'char', size: 1, encoding: 1, bitOffset: 0, bits: 8 },
      { id: 2, kind: BtfKind.Int, name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
      { id: 3, kind: BtfKind.Array, name: '', type: 1, indexType: 2, nelems: 16 },
      { id: 4, kind: BtfKind.Struct, name: 's', size: 16, kflag: false, members: [{ name: 'comm', type: 3, bitOffset: 0, bitfieldSize: 0 }] },
    ] as never);
    const dec = compileDecoder(parseBtf(raw, { file: 'comm' }), 4);
    const names = Array.from({ length: 5000 }, (_, i) => `task-${i.toString(36).padStart(4, '0')}${i % 7 ? '' : '-x'}`);
    const buf = new Uint8Array(16);
    const dv = new DataView(buf.buffer);
    for (let pass = 0; pass < 3; pass++)
      for (const name of names) {
        buf.fill(0);
        buf.set(Buffer.from(name));
        expect((dec(dv, 0) as { comm: string }).comm).toBe(name);
      }
  });
});
