// `bee-ts btf dump file <path> [format raw|c]` (bpftool's syntax).
import type { Btf } from '../btf/btf.js';
import { dumpCBytes } from '../btf/cdump.js';
import { dumpRawBytes, rawTypeJson } from '../btf/raw.js';
import type { ByteSink } from '../btf/textout.js';
import { readBtfFile } from '../loader/btf-files.js';
import { UsageError } from './errors.js';
import { jsonText } from './format.js';

export { readBtfFile };

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

/** `write` gets text; `writeBytes`, when given, the raw dump's bytes (only valid during the call). */
export function btfDump(
  args: string[],
  opts: BtfDumpOptions,
  write: (s: string) => void,
  fromKernel?: (source: string, path: string, selector: string[]) => Btf,
  writeBytes: ByteSink = (b) => write(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8')),
): void {
  const { source, path, format, selector } = parseDumpArgs(args);
  const base = opts.base ? readBtfFile(opts.base) : undefined;
  const btf = source === 'file' ? readBtfFile(path, base) : fromKernel!(source, path, selector);
  if (format === 'c') {
    if (opts.json) throw new UsageError('btf dump: format c has no JSON form');
    dumpCBytes(btf, writeBytes);
    return;
  }
  if (opts.json) {
    const types = [];
    for (let id = btf.firstId; id < btf.count; id++) types.push(rawTypeJson(btf.peek(id)));
    write(jsonText({ types }) + '\n');
    return;
  }
  dumpRawBytes(btf, writeBytes);
}
