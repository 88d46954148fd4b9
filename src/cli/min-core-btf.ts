// `gen min_core_btf INPUT OUTPUT OBJECT...` (bpftool's BTFgen): INPUT's BTF (raw or an ELF's
// .BTF) cut down to the types and members the objects' CO-RE relocations use, written as raw BTF.
import { parseBtf } from '../btf/btf.js';
import { parseBtfExt } from '../btf/ext.js';
import { parseElf } from '../elf/reader.js';
import { readBtfFile } from '../loader/btf-files.js';
import { type BtfgenObject, minCoreBtf } from '../loader/btfgen.js';
import { readInputFile, writeFileAtomic } from '../syscall/files.js';
import { errnoMessage } from '../syscall/errno.js';
import { CliExit, UsageError } from './errors.js';
import { globals } from './format.js';

export function minCoreBtfCommand(args: string[]): void {
  if (args.length < 3) throw new UsageError(`'min_core_btf' needs at least 3 arguments, ${args.length} found (gen min_core_btf INPUT OUTPUT OBJECT...)`);
  const [input, output, ...objs] = args as [string, string, ...string[]];
  const src = readBtfFile(input);
  const objects: BtfgenObject[] = objs.map((file) => {
    const elf = parseElf(readInputFile(file, 'BPF object'), file);
    const btfSec = elf.sectionByName('.BTF');
    if (!btfSec) throw new CliExit(`failed to parse BPF object '${file}': section .BTF not found`);
    const btf = parseBtf(btfSec.data, { file: `${file} (.BTF)` });
    const extSec = elf.sectionByName('.BTF.ext');
    if (!extSec) throw new CliExit(`failed to parse BPF object '${file}': section .BTF.ext not found`);
    return { file, btf, ext: parseBtfExt(extSec.data, btf, `${file} (.BTF.ext)`) };
  });
  const bytes = minCoreBtf(src, objects);
  try {
    writeFileAtomic(output, bytes);
  } catch (e) {
    const errno = -((e as NodeJS.ErrnoException).errno ?? 0);
    throw new CliExit(`error saving btf file: ${errno > 0 ? errnoMessage(errno) : (e as Error).message}`);
  }
  // bpftool -j prints its empty JSON document: a newline.
  if (globals.json) process.stdout.write('\n');
}
