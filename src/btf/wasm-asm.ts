// The few WebAssembly instructions the hand-assembled modules use (core spec, binary format), as
// byte arrays to spread into a function body, and a module builder for i32-only functions over one
// imported memory. No toolchain: V8 compiles such a module with Liftoff at once, where the same loop
// in JavaScript runs interpreted while TurboFan compiles it (what a one-shot command pays for).

export const UNREACHABLE = 0x00;
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const IF = 0x04;
export const ELSE = 0x05;
export const END = 0x0b;
export const BR = 0x0c;
export const BR_IF = 0x0d;
export const RETURN = 0x0f;
export const CALL = 0x10;
export const DROP = 0x1a;
export const EQZ = 0x45;
export const EQ = 0x46;
export const NE = 0x47;
export const LT_U = 0x49;
export const LT_S = 0x48;
export const GT_S = 0x4a;
export const GT_U = 0x4b;
export const LE_U = 0x4d;
export const GE_U = 0x4f;
export const CTZ = 0x68;
export const ADD = 0x6a;
export const SUB = 0x6b;
export const MUL = 0x6c;
export const DIV_U = 0x6e;
export const REM_U = 0x70;
export const AND = 0x71;
export const OR = 0x72;
export const XOR = 0x73;
export const SHL = 0x74;
export const SHR_U = 0x76;
export const I32 = 0x7f;
/** memory.copy (bulk memory: dest, src, length; overlapping ranges as memmove). */
export const MEMCOPY: readonly number[] = [0xfc, 0x0a, 0x00, 0x00];
export const VOID = 0x40;

export const uleb = (n: number): number[] => {
  const o: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    o.push(b);
  } while (n);
  return o;
};
export const sleb = (n: number): number[] => {
  const o: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...o, b];
    o.push(b | 0x80);
  }
};
/**
 * Code as nested arrays of bytes, flattened once when the module is assembled (building it with
 * array spreads cost ~3 ms of a one-shot command).
 */
export type Code = number | readonly Code[];
export const get = (l: number): Code => [0x20, l];
export const set = (l: number): Code => [0x21, l];
export const tee = (l: number): Code => [0x22, l];
export const i32 = (v: number): Code => [0x41, sleb(v)];
export const call = (f: number): Code => [CALL, uleb(f)];
/** i32.load (align 4) at the address on the stack plus `offset`. */
export const load = (offset = 0): Code => [0x28, 2, uleb(offset)];
/** i32.load8_u. */
export const load8 = (offset = 0): Code => [0x2d, 0, uleb(offset)];
export const store = (offset = 0): Code => [0x36, 2, uleb(offset)];
export const store8 = (offset = 0): Code => [0x3a, 0, uleb(offset)];

/** `body` when `cond` (an i32) is non-zero. */
export const when = (cond: Code, body: Code): Code => [cond, IF, VOID, body, END];
/** Count down local `n` (clobbered), running `body` each time. */
export const repeat = (n: number, body: Code): Code => [BLOCK, VOID, LOOP, VOID, get(n), EQZ, BR_IF, 1, body, get(n), i32(1), SUB, set(n), BR, 0, END, END];
/** Write `s` (ASCII) at the address in local `p`, advancing it. */
export const text = (p: number, s: string): Code => [Array.from(s, (c, k) => [get(p), i32(c.charCodeAt(0)), store8(k)]), get(p), i32(s.length), ADD, set(p)];
/**
 * The body of dec(p, v) -> p (2 params, 2 more locals): v in decimal (unsigned) at address p,
 * returning the address after it.
 */
export const decBody = (): Code => {
  const [DP, DV, DD, DT] = [0, 1, 2, 3];
  return [
    i32(1), set(DD), get(DV), set(DT),
    BLOCK, VOID, LOOP, VOID, get(DT), i32(10), LT_U, BR_IF, 1, get(DT), i32(10), DIV_U, set(DT), get(DD), i32(1), ADD, set(DD), BR, 0, END, END,
    get(DP), get(DD), ADD, set(DT),
    LOOP, VOID,
    get(DT), i32(1), SUB, set(DT),
    get(DT), get(DV), i32(10), REM_U, i32(48), ADD, store8(),
    get(DV), i32(10), DIV_U, set(DV),
    get(DV), BR_IF, 0,
    END,
    get(DP), get(DD), ADD,
  ];
};

/** One function: its parameter count, result count (0 or 1), extra i32 locals and body (without the final END). */
export interface WasmFunc {
  name?: string;
  params: number;
  results: 0 | 1;
  locals: number;
  body: Code;
}

/** A module importing `m.mem` (a memory of at least one page) with i32 functions, the named ones exported. */
export function wasmModule(funcs: WasmFunc[]): Uint8Array {
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const types: number[] = [...uleb(funcs.length)];
  for (const f of funcs) types.push(0x60, ...uleb(f.params), ...new Array<number>(f.params).fill(I32), f.results, ...(f.results ? [I32] : []));
  const exported = funcs.map((f, i) => [f, i] as const).filter(([f]) => f.name);
  const exports: number[] = [...uleb(exported.length)];
  for (const [f, i] of exported) exports.push(...name(f.name!), 0x00, ...uleb(i));
  const codes: number[] = [...uleb(funcs.length)];
  for (const f of funcs) {
    const code = [...(f.locals ? [1, ...uleb(f.locals), I32] : [0]), ...([f.body] as Code[]).flat(Infinity as 1) as number[], END];
    codes.push(...uleb(code.length), ...code);
  }
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(2, [1, ...name('m'), ...name('mem'), 0x02, 0x00, 0x01]), // import m.mem: memory, min 1 page
    ...section(3, [...uleb(funcs.length), ...funcs.map((_, i) => i).flatMap((i) => uleb(i))]), // function i has type i
    ...section(7, exports),
    ...section(10, codes),
  ]);
}

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
export interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (desc: { initial: number }) => { buffer: ArrayBuffer };
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
export const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** A typed array's words are the wasm memory's (little-endian) words: the host is little-endian. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
