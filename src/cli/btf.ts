// `bee-ts btf dump file <path> [format raw|c]` (bpftool's syntax).
import fs from 'node:fs';
import { Btf, parseBtf } from '../btf/btf.js';
import { dumpC } from '../btf/cdump.js';
import { dumpRaw, rawTypeJson } from '../btf/raw.js';
import { parseElf } from '../elf/reader.js';
import { UsageError } from './errors.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Read BTF from a raw BTF file (e.g. /sys/kernel/btf/*) or an ELF object's .BTF section. */
export function readBtfFile(path: string, base?: Btf): Btf {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const elf = parseElf(bytes, path);
    const sec = elf.sectionByName('.BTF');
    if (!sec) throw new Error(`${path}: no .BTF section (compile with clang -g)`);
    return parseBtf(sec.data, { file: path, base });
  }
  // Module BTF under /sys/kernel/btf is split BTF on top of vmlinux.
  if (!base && path.startsWith('/sys/kernel/btf/') && path !== VMLINUX) base = readBtfFile(VMLINUX);
  return parseBtf(bytes, { file: path, base });
}

export interface BtfDumpOptions {
  json?: boolean;
  base?: string;
}

export function parseDumpArgs(args: string[]): { source: string; path: string; format: 'raw' | 'c'; selector: string[] } {
  const [source, path, ...rest0] = args;
  if (source !== 'file' && source !== 'id' && source !== 'map' && source !== 'prog')
    throw new UsageError(`btf dump: expected 'file <path>', 'id <N>', 'map <MAP>' or 'prog <PROG>', got '${args.join(' ')}'`);
  if (!path) throw new UsageError(`btf dump ${source}: missing ${source === 'file' ? 'path' : 'selector'}`);
  // map/prog selectors take two words (id N, pinned PATH, name NAME).
  const selector = source === 'map' || source === 'prog' ? [path, rest0[0] ?? ''] : [];
  const rest = source === 'map' || source === 'prog' ? rest0.slice(1) : rest0;
  let format: 'raw' | 'c' = 'raw';
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === 'format') {
      const f = rest[++i];
      if (f !== 'raw' && f !== 'c') throw new UsageError(`btf dump: format must be raw or c, got '${f ?? ''}'`);
      format = f;
    } else throw new UsageError(`btf dump: unexpected argument '${rest[i]}'`);
  }
  return { source, path, format, selector };
}

export function btfDump(args: string[], opts: BtfDumpOptions, write: (s: string) => void, fromKernel?: (source: string, path: string, selector: string[]) => Btf): void {
  const { source, path, format, selector } = parseDumpArgs(args);
  const base = opts.base ? readBtfFile(opts.base) : undefined;
  const btf = source === 'file' ? readBtfFile(path, base) : fromKernel!(source, path, selector);
  if (format === 'c') {
    if (opts.json) throw new UsageError('btf dump: format c has no JSON form');
    dumpC(btf, write);
    return;
  }
  if (opts.json) {
    const types = [];
    for (let id = btf.firstId; id < btf.types.length; id++) types.push(rawTypeJson(btf.types[id]!));
    write(JSON.stringify({ types }) + '\n');
    return;
  }
  dumpRaw(btf, write);
}
