// Robustness: over 100,000 truncated and bit-flipped copies of the fixtures through parseObject
// (ELF, BTF, BTF.ext, the spec) and, when they parse, planWatches (bee-ts run's validation and
// formatter compile), plus mutated .BTF/.BTF.ext blobs and a blob cut from the kernel's BTF, must
// give a typed error or a valid result, quickly, never a RangeError, TypeError or hang. Mutations
// come from a seeded PRNG so a failure names a reproducible case (object and seed).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { CDumper } from '../src/btf/cdump.js';
import { encodeBtf } from '../src/btf/encode.js';
import { parseBtfExt } from '../src/btf/ext.js';
import { dumpRaw } from '../src/btf/raw.js';
import { BtfError, BtfKind, type BtfType } from '../src/btf/types.js';
import { ElfError, parseElf } from '../src/elf/reader.js';
import { planWatches, WatchError } from '../src/bee/watch.js';
import { type ObjectSpec, parseObject, SpecError } from '../src/loader/spec.js';
import { StructOpsError } from '../src/loader/struct-ops.js';
import { ALL_OBJECTS, need, readFixture } from './helpers.js';

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mutation `seed` of `input`: truncation, bit flips, or overwritten words, anywhere or (with
 * `within`) only inside that byte range, e.g. one section.
 */
function mutate(input: Uint8Array, seed: number, within?: [number, number]): Uint8Array {
  const rnd = prng(seed);
  const mode = within ? 1 + (seed % 3) : seed % 4;
  if (mode === 0) return input.slice(0, Math.floor(rnd() * input.length));
  const [lo, hi] = within ?? [0, input.length];
  const out = Uint8Array.from(input);
  const n = 1 + Math.floor(rnd() * 8);
  for (let k = 0; k < n; k++) {
    const at = lo + Math.floor(rnd() * (hi - lo));
    if (mode === 1) out[at]! ^= 1 << Math.floor(rnd() * 8);
    else if (mode === 2) out[at] = rnd() < 0.5 ? 0xff : 0;
    else for (let j = 0; j < 4 && at + j < out.length; j++) out[at + j] = Math.floor(rnd() * 256);
  }
  return out;
}

// StructOpsError: a malformed .struct_ops section, found while parsing the object.
const TYPED = [ElfError, BtfError, SpecError, StructOpsError, WatchError];
/** CPU time one input may take (CPU, not wall time: a loaded host descheduling us is not a slow parser). */
const TIME_LIMIT_MS = 2000;

function check(what: string, seed: number, fn: () => void) {
  const t0 = process.cpuUsage();
  try {
    fn();
  } catch (e) {
    if (!TYPED.some((T) => e instanceof T)) throw new Error(`${what} mutation ${seed}: untyped ${(e as Error).name}: ${(e as Error).message}\n${(e as Error).stack}`);
  }
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  if (ms > TIME_LIMIT_MS) throw new Error(`${what} mutation ${seed} took ${ms.toFixed(0)} ms of CPU`);
}

function exerciseBtf(bytes: Uint8Array) {
  const btf = parseBtf(bytes, { file: 'fuzz' });
  dumpRaw(btf, () => {});
  new CDumper(btf, () => {}).dump();
}

const PER_OBJECT = 400;
/** Mutated objects through parseObject (and planWatches when they parse), over all fixtures. */
const OBJECT_INPUTS = 100_000;
const PER_FIXTURE = Math.ceil(OBJECT_INPUTS / ALL_OBJECTS.length);

describe('fuzzing the readers', () => {
  let objectInputs = 0;
  let watched = 0;
  it.each(ALL_OBJECTS)(`%s: ${PER_FIXTURE} mutated objects through parseObject and planWatches`, (name) => {
    const bytes = readFixture(name);
    // Every third input is mutated inside .BTF only: specs that parse with odd types reach planWatches.
    const btf = parseElf(bytes).sectionByName('.BTF');
    const btfRange: [number, number] | undefined = btf && btf.size > 0 ? [btf.offset, btf.offset + btf.size] : undefined;
    let parsed = 0;
    for (let i = 0; i < PER_FIXTURE; i++) {
      const input = btfRange && i % 3 === 2 ? mutate(bytes, i, btfRange) : mutate(bytes, i);
      let spec: ObjectSpec | undefined;
      check(name, i, () => {
        spec = parseObject(input, { file: 'fuzz.o' });
        parsed++;
      });
      objectInputs++;
      if (spec) {
        check(`${name} planWatches`, i, () => planWatches(spec!));
        watched++;
      }
    }
    // Some mutations land in padding or unused bytes and must still parse (objects that are
    // invalid on purpose, e.g. legacy_options.bpfel.o, only have to fail with typed errors).
    let valid = true;
    try {
      parseObject(bytes, { file: name });
    } catch {
      valid = false;
    }
    if (valid) expect(parsed).toBeGreaterThan(0);
  });

  it(`${OBJECT_INPUTS} mutated objects in all went through parseObject`, () => {
    expect(objectInputs).toBeGreaterThanOrEqual(OBJECT_INPUTS);
    expect(watched).toBeGreaterThan(OBJECT_INPUTS / 10);
  });

  it.each(ALL_OBJECTS.filter((f) => f.includes('bpfel')))(`%s: ${PER_OBJECT} mutated .BTF and .BTF.ext blobs`, (name) => {
    const elf = parseElf(readFixture(name));
    const btfBytes = elf.sectionByName('.BTF')!.data;
    const extBytes = elf.sectionByName('.BTF.ext')!.data;
    const btf = parseBtf(btfBytes);
    for (let i = 0; i < PER_OBJECT; i++) {
      check(`${name} .BTF`, i, () => exerciseBtf(mutate(btfBytes, i)));
      check(`${name} .BTF.ext`, i, () => parseBtfExt(mutate(extBytes, i), btf, 'fuzz'));
    }
  });

  it('a blob cut from the kernel BTF: 1000 mutations', () => {
    const path = '/sys/kernel/btf/vmlinux';
    if (need(fs.existsSync(path), `${path} is missing`)) return;
    const full = parseBtf(fs.readFileSync(path));
    // The first 3000 kernel types, with references beyond the cut redirected to void.
    const N = 3000;
    const fix = (id: number) => (id < N ? id : 0);
    const cut: BtfType[] = full.types.slice(0, N).map((t) => {
      const c = structuredClone(t) as BtfType;
      if ('type' in c) (c as { type: number }).type = fix(c.type);
      if (c.kind === BtfKind.Array) c.indexType = fix(c.indexType);
      if (c.kind === BtfKind.Struct || c.kind === BtfKind.Union) for (const m of c.members) m.type = fix(m.type);
      if (c.kind === BtfKind.FuncProto) {
        c.returnType = fix(c.returnType);
        for (const p of c.params) p.type = fix(p.type);
      }
      if (c.kind === BtfKind.Datasec) for (const v of c.vars) v.type = fix(v.type);
      return c;
    });
    // Funcs must point at prototypes: drop those whose prototype fell off the cut.
    for (let i = 1; i < cut.length; i++) {
      const t = cut[i]!;
      if ((t.kind === BtfKind.Func && cut[t.type]?.kind !== BtfKind.FuncProto) || (t.kind === BtfKind.Var && t.type === 0))
        cut[i] = { kind: BtfKind.Int, id: i, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    }
    const blob = encodeBtf(cut);
    expect(parseBtf(blob).count).toBe(N);
    for (let i = 0; i < 1000; i++) check('vmlinux blob', i, () => exerciseBtf(mutate(blob, i)));
  });
});
