// Binary + symbol → file offset for uprobes: read the ELF symbol tables of the target (dynamic
// and static), and convert the symbol's virtual address to an offset in the file through the
// section that holds it.
import { BeeTsError } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { parseElf, STT_FUNC } from '../elf/reader.js';

export class SymbolError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('SYMBOL', message, options);
  }
}

const LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];

/** Resolve `libc.so.6` or `node` to an absolute path (library dirs, then $PATH). */
export function resolveBinary(name: string): string {
  if (name.includes('/')) {
    if (!fs.existsSync(name)) throw new SymbolError(`uprobe target ${name} does not exist`);
    return fs.realpathSync(name);
  }
  const dirs = name.includes('.so') ? LIB_DIRS : [...(process.env.PATH ?? '').split(':'), ...LIB_DIRS];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (d && fs.existsSync(p)) return fs.realpathSync(p);
  }
  throw new SymbolError(`cannot find '${name}' in ${name.includes('.so') ? 'the library directories' : '$PATH or the library directories'}; give an absolute path`);
}

/**
 * The binary's functions by name (`name@VERSION` counted as `name`) → file offset, the dynamic
 * table first, each name once (its first definition). A file that is not ELF is an error.
 */
function functionOffsets(binary: string): Map<string, number> {
  const bytes = fs.readFileSync(binary);
  const out = new Map<string, number>();
  for (const dynamic of [true, false]) {
    let elf;
    try {
      elf = parseElf(bytes, binary, { anyMachine: true, dynamic });
    } catch (e) {
      if (dynamic) continue; // no dynamic table: the static parse below says what is wrong
      throw e;
    }
    for (const s of elf.symbols) {
      if (s.type !== STT_FUNC || s.shndx === 0 || s.value === 0) continue;
      const name = s.name.split('@')[0]!;
      const sec = elf.sections[s.shndx];
      if (out.has(name) || !sec) continue;
      out.set(name, s.value - Number(sec.addr) + sec.offset);
    }
  }
  return out;
}

/** File offset of a function symbol (`name`, or `name@VERSION`). */
export function symbolOffset(binary: string, symbol: string): number {
  const want = symbol.split('@').filter(Boolean)[0] ?? '';
  const off = functionOffsets(binary).get(want);
  if (off === undefined) throw new SymbolError(`symbol '${symbol}' is not a function in ${binary}`);
  return off;
}

/** A glob (`*`, `?`) as an anchored regular expression (libbpf's uprobe.multi patterns). */
export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Every function in the binary whose name matches the glob, with its file offset. */
export function symbolOffsets(binary: string, glob: string): { name: string; offset: number }[] {
  const re = globRegExp(glob);
  return [...functionOffsets(binary)]
    .filter(([name]) => re.test(name))
    .map(([name, offset]) => ({ name, offset }))
    .sort((a, b) => a.offset - b.offset || a.name.localeCompare(b.name, 'en'));
}

/** `name+offset` (decimal or 0x hex) as its two parts: the target form of kprobes and uprobes. */
export function splitTarget(t: string): { name: string; offset: number } {
  const m = /^(.*?)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(t)!;
  return { name: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}
