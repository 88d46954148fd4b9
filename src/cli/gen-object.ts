// `gen object OUTPUT INPUT...`: bpftool's static linking of BPF objects (src/loader/linker.ts).
import { linkObjects } from '../loader/linker.js';
import { errnoMessage } from '../syscall/errno.js';
import { readInputFile, writeFileAtomic } from '../syscall/files.js';
import { CliExit, UsageError } from './errors.js';
import { globals } from './format.js';

export function genObjectCommand(args: string[]): void {
  if (args.length < 2) throw new UsageError(`'object' needs at least 2 arguments, ${args.length} found (gen object OUTPUT INPUT...)`);
  const [output, ...inputs] = args as [string, ...string[]];
  const linked = linkObjects(inputs.map((file) => ({ file, bytes: readInputFile(file, 'BPF object') })));
  try {
    writeFileAtomic(output, linked);
  } catch (e) {
    const errno = -((e as NodeJS.ErrnoException).errno ?? 0);
    throw new CliExit(`failed to write '${output}': ${errno > 0 ? errnoMessage(errno) : (e as Error).message}`);
  }
  // bpftool -j prints its empty JSON document: a newline.
  if (globals.json) process.stdout.write('\n');
}
