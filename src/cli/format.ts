// Output helpers shared by CLI commands: aligned tables for people, JSON for machines.
import fs from 'node:fs';

/**
 * Whether writeOut writes fd 1 itself: set by deferStdout (start.ts, a bee-ts process) until
 * something asks for process.stdout. Creating that stream loads Node's stream modules (and for a
 * terminal tty and net): ~2 ms of a short command (bench/startup.mjs), which `--help` to a pipe
 * or a file and the listings need not pay.
 */
let directStdout = false;

/**
 * A bee-ts process: writeOut writes fd 1 with write(2) until the first use of process.stdout,
 * which creates the stream as Node does and hands it to `made` (start.ts adds its EPIPE handler
 * there). Both write synchronously (stdout to files, pipes and terminals is synchronous on Linux),
 * so output keeps its order across the switch.
 */
export function deferStdout(made: (s: NodeJS.WriteStream) => void): void {
  const d = Object.getOwnPropertyDescriptor(process, 'stdout');
  if (!d?.get || !d.configurable) return made(process.stdout);
  directStdout = true;
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: d.enumerable,
    get() {
      directStdout = false;
      Object.defineProperty(process, 'stdout', d);
      const s = process.stdout;
      made(s);
      return s;
    },
  });
}

/** Text or bytes to stdout, synchronously (through process.stdout once that exists). */
export function writeOut(s: string | Uint8Array): void {
  if (!directStdout) {
    process.stdout.write(s);
    return;
  }
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  let at = 0;
  try {
    while (at < b.length) at += fs.writeSync(1, b, at, b.length - at);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A non-blocking stdout that is full: the stream queues the rest, as it would have all of it.
    if (code === 'EAGAIN') process.stdout.write(Buffer.from(b.subarray(at)));
    // A closed pipe: what process.stdout reports (start.ts's handler ends the command).
    else if (code === 'EPIPE') process.stdout.emit('error', e);
    else throw e;
  }
}

/**
 * Whether fd 1 may be a terminal (a character device other than /dev/null), without creating
 * process.stdout: commander asks process.stdout for the width and colours of help only then.
 */
export function stdoutMayBeTty(): boolean {
  if (!directStdout) return !!process.stdout.isTTY;
  try {
    const st = fs.fstatSync(1);
    return st.isCharacterDevice() && st.rdev !== 0x103;
  } catch {
    return false;
  }
}

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function table(header: string[], rows: (string | number)[][], indent = ''): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all
    .map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/**
 * Streams a large output straight to stdout as it is produced. stdout writes to files and pipes
 * are synchronous on Linux, so nothing accumulates in memory (which the GC would pay for).
 */
export function writeChunks(produce: (write: (s: string) => void) => void): void {
  produce(writeOut);
}

/** Bytes to stdout; the caller may reuse its buffer after the call (a pipe may queue a write: this copies). */
export function writeBytesOut(b: Uint8Array): void {
  writeOut(directStdout ? b : Buffer.from(b));
}

/** bpftool's global options (set from the command line, wherever they appear). */
export const globals = { json: false, pretty: false, debug: false, mapcompat: false, bpffs: false, nomount: false };

/**
 * A value as bpftool's json_writer prints it. Compact, this is JSON.stringify (bigints as bare
 * integers). Pretty (-p), each object member goes on its own line indented by 4 spaces per level,
 * while array elements follow each other after a comma; a non-empty array or object closes on a
 * new line at its own level ("map_ids": [1,2\n        ]). `depth` is the nesting the value starts at.
 */
export function jsonText(v: unknown, pretty = globals.pretty, depth = 0): string {
  const parts: string[] = [];
  const eol = (depth: number) => {
    if (pretty) parts.push('\n', '    '.repeat(depth));
  };
  const put = (x: unknown, depth: number): void => {
    if (typeof x === 'bigint') return void parts.push(x.toString());
    if (x instanceof Uint8Array) x = Array.from(x);
    if (x !== null && typeof x === 'object' && typeof (x as { toJSON?: unknown }).toJSON !== 'function') {
      const isArray = Array.isArray(x);
      parts.push(isArray ? '[' : '{');
      let n = 0;
      if (isArray) {
        for (const e of x as unknown[]) {
          if (n++) parts.push(',');
          put(e === undefined || typeof e === 'function' ? null : e, depth + 1);
        }
      } else {
        for (const [k, e] of Object.entries(x as Record<string, unknown>)) {
          if (e === undefined || typeof e === 'function') continue;
          if (n++) parts.push(',');
          eol(depth + 1);
          parts.push(JSON.stringify(k), pretty ? ': ' : ':');
          put(e, depth + 1);
        }
      }
      if (n) eol(depth);
      parts.push(isArray ? ']' : '}');
      return;
    }
    parts.push(JSON.stringify(x) ?? 'null');
  };
  put(v, depth);
  return parts.join('');
}

/**
 * The order bpftool lists several values under one key (pins of one program, programs of one
 * BTF): it appends them to libbpf's hashmap, which puts each new entry at the head of its bucket
 * and, each time it grows (at 75% of 4, 8, 16, ... buckets), moves the entries over in a way that
 * reverses every chain. `entries` in insertion order; returns key → values in listing order.
 */
export function hashmapOrder<K, V>(entries: Iterable<[K, V]>): Map<K, V[]> {
  const chains = new Map<K, V[]>();
  let size = 0;
  let cap = 0;
  for (const [k, v] of entries) {
    if (cap === 0 || Math.floor(((size + 1) * 4) / 3) > cap) {
      cap = cap ? cap * 2 : 4;
      for (const c of chains.values()) c.reverse();
    }
    const c = chains.get(k);
    if (c) c.unshift(v);
    else chains.set(k, [v]);
    size++;
  }
  return chains;
}
