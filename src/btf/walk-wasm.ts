// parseKernelBtf's record walk as a small WebAssembly function. The walk runs once per process over
// vmlinux's ~126k records; as JavaScript it ran interpreted while TurboFan compiled it on the other
// core (both process CPU: ~8 ms of a first CO-RE load here), where V8 compiles this module's one
// function with Liftoff at once (~0.3 ms) and the walk takes ~1 ms. The function is assembled here
// from its instructions (no toolchain; `test/btf-walk.test.ts` checks it against the JavaScript
// walk, walkTypes in btf.ts, which stays the path where WebAssembly is missing, e.g. --jitless).
//
// A wasm memory cannot alias the kernel's mapped pages, so the words go through a window copied
// in one chunk at a time, and the string section (the first two bytes of each name, for the name
// keys) is copied in whole; each chunk's records come out of an output window into the caller's
// arrays. The records are the walk's own: walkTypes' checks and outputs, word for word.
import { KIND_FLAGS, KIND_HEAD, KIND_STRIDE } from './record.js';
import { ADD, AND, BLOCK, BR, BR_IF, ELSE, END, EQZ, GE_U, GT_U, I32, IF, LOOP, LT_U, MUL, OR, RETURN, SHL, SHR_U, sleb, SUB, uleb, VOID } from './wasm-asm.js';

// Opcodes and LEB128 from wasm-asm.ts (shared with the C dump's module); this walk keeps its own
// flat helpers below (its body is spread into one array, not nested Code).
const GET = 0x20;
const SET = 0x21;
const TEE = 0x22;
const LOAD = 0x28;
const LOAD8 = 0x2d;
const STORE = 0x36;
const STORE8 = 0x3a;
const CONST = 0x41;

const get = (l: number) => [GET, l];
const set = (l: number) => [SET, l];
const tee = (l: number) => [TEE, l];
const i32 = (v: number) => [CONST, ...sleb(v)];
const load = (offset: number) => [LOAD, 2, ...uleb(offset)];
const load8 = (offset: number) => [LOAD8, 0, ...uleb(offset)];
const store = [STORE, 2, 0];
const store8 = [STORE8, 0, 0];

/** Where the memory holds the kind tables (flags, head, stride: 32 bytes each), the counts and the end state. */
const TABLES = 0;
const COUNTS = 128;
const STATE = 256;
const STR = 512;

// walk(win, limit, offs, kinds, keys, str, strEnd, baseLen, pBase) -> records written, or -1.
// Params 0-8 as named; locals: 9 n, 10 p, 11 info, 12 kind, 13 name, 14 a (scratch).
// Walks the records whose 3-word header starts inside win[0, limit); leaves p (the next record's
// word, relative to win) at STATE. offs get p + pBase (the window's first word in the section).
const [WIN, LIMIT, OFFS, KINDS, KEYS, STRP, STREND, BASELEN, PBASE, N, P, INFO, KIND, NAME, A] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const body = [
  BLOCK, VOID, LOOP, VOID,
  // while (p + 3 <= limit)
  ...get(P), ...i32(3), ADD, ...get(LIMIT), GT_U, BR_IF, 1,
  // info = win[p + 1]; kind = (info >>> 24) & 0x1f; name = win[p]
  ...get(WIN), ...get(P), ...i32(2), SHL, ADD, ...tee(A),
  ...load(4), ...tee(INFO), ...i32(24), SHR_U, ...i32(31), AND, ...set(KIND),
  ...get(A), ...load(0), ...set(NAME),
  // if (flags[kind] === 0 || name >= strEnd) return -1
  ...i32(TABLES), ...get(KIND), ADD, ...load8(0), EQZ, ...get(NAME), ...get(STREND), GE_U, OR,
  IF, VOID, ...i32(-1), RETURN, END,
  // keys[n] = kind << 16 | (name === 0 ? 0 : name < baseLen ? BASE_NAME : str[o] | str[o + 1] << 8)
  ...get(KEYS), ...get(N), ...i32(2), SHL, ADD,
  ...get(KIND), ...i32(16), SHL,
  ...get(NAME), EQZ,
  IF, I32, ...i32(0),
  ELSE,
  ...get(NAME), ...get(BASELEN), LT_U,
  IF, I32, ...i32(0xffff),
  ELSE,
  ...get(STRP), ...get(NAME), ADD, ...get(BASELEN), SUB, ...tee(A), ...load8(0), ...get(A), ...load8(1), ...i32(8), SHL, OR,
  END,
  END,
  OR, ...store,
  // offs[n] = p + pBase; kinds[n] = kind; n++
  ...get(OFFS), ...get(N), ...i32(2), SHL, ADD, ...get(P), ...get(PBASE), ADD, ...store,
  ...get(KINDS), ...get(N), ADD, ...get(KIND), ...store8,
  ...get(N), ...i32(1), ADD, ...set(N),
  // counts[kind]++
  ...i32(COUNTS), ...get(KIND), ...i32(2), SHL, ADD, ...tee(A), ...get(A), ...load(0), ...i32(1), ADD, ...store,
  // p += head[kind] + stride[kind] * (info & 0xffff)
  ...get(P), ...i32(TABLES), ...get(KIND), ADD, ...tee(A), ...load8(32), ADD, ...get(A), ...load8(64), ...get(INFO), ...i32(0xffff), AND, MUL, ADD, ...set(P),
  BR, 0,
  END, END,
  ...i32(STATE), ...get(P), ...store,
  ...get(N),
  END,
];

function moduleBytes(): Uint8Array {
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const code = [...uleb(1), 6, I32, ...body]; // one group of 6 i32 locals
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 9, ...new Array<number>(9).fill(I32), 1, I32]), // type: (i32 x 9) -> i32
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, 0x01]), // import m.mem: memory, min 1 page
    ...section(3, [1, 0]), // function 0 has type 0
    ...section(7, [1, ...name('walk'), 0x00, 0x00]), // export "walk" = function 0
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

/** Words per window: 256 KiB of words and ~200 KiB of output (fresh pages cost here), 13 chunks for vmlinux's 3 MiB type section. */
const WINDOW = 1 << 16;

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number }) => { buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/** The compiled module, once; null where this Node has no WebAssembly (--jitless) or it fails to compile. */
function walkModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm ? new wasm.Module(moduleBytes()) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * @internal walkTypes (btf.ts) in WebAssembly: fills offs/kinds/keys/counts (counts zeroed) the same
 * way and returns the record count or -1; undefined when WebAssembly is not available (the caller
 * walks in JavaScript). `window`: words per chunk (tests cut records across chunks with small ones).
 */
export function walkTypesWasm(w: Uint32Array, offs: Int32Array, kinds: Uint8Array, keys: Uint32Array, counts: Uint32Array, str: Uint8Array, baseLen: number, window = WINDOW): number | undefined {
  const mod = walkModule();
  if (!mod) return undefined;
  const nWords = w.length;
  const win = Math.max(3, Math.min(window, nWords));
  const maxRecs = Math.floor(win / 3) + 1;
  // STR: the string section and 2 zero bytes (a one-byte name's second byte reads 0, as
  // walkTypes' out-of-range read gives undefined, which `<< 8` makes 0).
  const winAt = (STR + str.length + 2 + 3) & ~3;
  const offsAt = winAt + 4 * win;
  const keysAt = offsAt + 4 * maxRecs;
  const kindsAt = keysAt + 4 * maxRecs;
  let mem: { buffer: ArrayBuffer };
  let walk: (...args: number[]) => number;
  try {
    mem = new wasm!.Memory({ initial: Math.ceil((kindsAt + maxRecs) / 65536) });
    walk = new wasm!.Instance(mod, { m: { mem } }).exports.walk as (...args: number[]) => number;
  } catch {
    // No room for a wasm memory (a wasm memory reserves its guard region: a low `ulimit -v` refuses it): the JavaScript walk.
    return undefined;
  }
  const bytes = new Uint8Array(mem.buffer);
  bytes.set(KIND_FLAGS, TABLES);
  bytes.set(KIND_HEAD, TABLES + 32);
  bytes.set(KIND_STRIDE, TABLES + 64);
  bytes.set(str, STR);
  const chunk = new Uint32Array(mem.buffer, winAt, win);
  const outOffs = new Int32Array(mem.buffer, offsAt, maxRecs);
  const outKeys = new Uint32Array(mem.buffer, keysAt, maxRecs);
  const outKinds = new Uint8Array(mem.buffer, kindsAt, maxRecs);
  const state = new Uint32Array(mem.buffer, STATE, 1);
  const strEnd = baseLen + str.length;
  let p = 0;
  let n = 0;
  while (p + 3 <= nWords) {
    const len = Math.min(win, nWords - p);
    chunk.set(w.subarray(p, p + len));
    const k = walk(winAt, len, offsAt, kindsAt, keysAt, STR, strEnd, baseLen, p);
    if (k < 0) return -1;
    offs.set(outOffs.subarray(0, k), n);
    keys.set(outKeys.subarray(0, k), n);
    kinds.set(outKinds.subarray(0, k), n);
    n += k;
    p += state[0]!;
  }
  counts.set(new Uint32Array(mem.buffer, COUNTS, 32));
  return p === nWords ? n : -1;
}
