// bpftool-like `prog pin`, `prog dump xlated|jited` and `prog run` (`prog show|list` is show.ts's):
// bpftool's plain layout and -j keys.
import fs from 'node:fs';
import type { Btf } from '../btf/btf.js';
import { objPin, progTestRun } from '../syscall/bpf.js';
import { ProgType } from '../syscall/constants.js';
import { progInfo } from '../syscall/info.js';
import { readInputFile } from '../syscall/files.js';
import { CliExit, UsageError } from './errors.js';
import { jsonText } from './format.js';
import { keyword } from './argv.js';
import { btfById, keywordArgs, openProgs, parseSelector } from './objects.js';

export function progPin(args: string[]): void {
  const sel = parseSelector(args, 'prog');
  const path = sel.rest[0];
  if (!path) throw new UsageError('prog pin PROG FILE: missing FILE');
  const fds = openProgs(sel);
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    objPin(fds[0]!.value, path);
  } finally {
    for (const f of fds) f.close();
  }
}

/** prog dump xlated PROG [opcodes | linum | visual | file FILE]: bpftool's forms (one option at a time, like bpftool 7.1). */
/** `prog dump xlated|jited PROG [opcodes | linum | visual | file FILE]`'s keywords, as bpftool reads them. */
function dumpArgs(kind: 'xlated' | 'jited', args: string[]) {
  const sel = parseSelector(args, 'prog');
  const rest = sel.rest;
  let file: string | undefined;
  const opts: { opcodes?: boolean; linum?: boolean } = {};
  if (rest[0] !== undefined) rest[0] = keyword(rest[0], kind === 'xlated' ? ['file', 'opcodes', 'visual', 'linum'] : ['file', 'opcodes', 'linum']) ?? rest[0];
  if (rest[0] === 'file') {
    if (!rest[1] || rest.length > 2) throw new UsageError(`prog dump ${kind} PROG file FILE`);
    file = rest[1];
  } else {
    if (rest.length > 1) throw new UsageError(`prog dump ${kind}: one of opcodes, linum (got '${rest.join(' ')}')`);
    if (rest[0] === 'opcodes') opts.opcodes = true;
    else if (rest[0] === 'linum') opts.linum = true;
    else if (rest[0] === 'visual') throw new UsageError('prog dump xlated ... visual (a DOT graph) is not supported by bee-ts');
    else if (rest[0] !== undefined) throw new UsageError(`prog dump ${kind}: unknown option '${rest[0]}' (opcodes | linum | file FILE)`);
  }
  return { sel, file, opts };
}

/** The program's BTF, or undefined when it has none or it is gone (no prototypes or source lines then). */
function progBtf(btfId: number): Btf | undefined {
  try {
    return btfId ? btfById(btfId) : undefined;
  } catch {
    return undefined;
  }
}

export async function progDumpXlated(args: string[], json: boolean): Promise<void> {
  const { sel, file, opts } = dumpArgs('xlated', args);
  const { progXlated } = await import('../syscall/info.js');
  const x = await import('./xlated.js');
  const fds = openProgs(sel);
  // One /proc/kallsyms snapshot for the command, read after the programs are open.
  const ks = file ? undefined : x.readKallsyms();
  try {
    const out: string[] = [];
    const jsonOut: unknown[] = [];
    for (const fd of fds) {
      const d = progXlated(fd.value);
      if (file) {
        fs.writeFileSync(file, d.insns);
        continue;
      }
      const btf = progBtf(d.info.btfId);
      if (json) jsonOut.push(x.xlatedJson(d, btf, opts, ks));
      else out.push(x.xlatedText(d, btf, opts, ks));
    }
    if (file) return;
    process.stdout.write(json ? jsonText(fds.length === 1 ? jsonOut[0] : jsonOut) + '\n' : out.join('\n'));
  } finally {
    for (const f of fds) f.close();
  }
}

/**
 * prog dump jited PROG [opcodes | linum | file FILE]: the JIT's machine code, disassembled by
 * bee-ts (x86-64, arm64), in the layout of bpftool built with LLVM. `file` writes the raw image (mode
 * 0600, never through a symlink), as bpftool does; JSON then prints null.
 */
export async function progDumpJited(args: string[], json: boolean): Promise<void> {
  const { sel, file, opts } = dumpArgs('jited', args);
  const { progJited } = await import('../syscall/info.js');
  const j = await import('./jited.js');
  const decoder = j.hostDecoder();
  if (!file && !decoder)
    throw new CliExit(`prog dump jited: bee-ts disassembles x86-64 and arm64 code only (this machine is ${process.arch}); 'prog dump jited PROG file FILE' writes the raw image`);
  const fds = openProgs(sel);
  if (file && fds.length > 1) throw new UsageError('prog dump jited ... file FILE: several programs matched');
  const ks = file ? undefined : (await import('./xlated.js')).readKallsyms();
  try {
    const out: string[] = [];
    const jsonOut: unknown[] = [];
    for (const fd of fds) {
      const d = progJited(fd.value);
      if (d.info.ifindex) throw new CliExit(`prog dump jited: program ${d.info.id} is offloaded to a device (ifindex ${d.info.ifindex}); bee-ts disassembles host code only`);
      if (!d.image.length) throw new CliExit(`prog dump jited: program ${d.info.id} has no JIT image (not jited: net.core.bpf_jit_enable is 0, or an interpreter-only kernel)`);
      if (file) {
        const f = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o600);
        try {
          fs.writeSync(f, d.image);
        } finally {
          fs.closeSync(f);
        }
        continue;
      }
      const btf = progBtf(d.info.btfId);
      if (json) jsonOut.push(j.jitedJson(d, btf, opts, decoder, ks));
      else out.push(j.jitedText(d, btf, opts, decoder, ks));
    }
    if (file) {
      if (json) process.stdout.write('null\n');
      return;
    }
    process.stdout.write(json ? jsonText(fds.length === 1 ? jsonOut[0] : jsonOut) + '\n' : out.join('\n'));
  } finally {
    for (const f of fds) f.close();
  }
}

/**
 * prog run PROG [data_in FILE [data_out FILE [data_size_out L]]] [ctx_in FILE [ctx_out FILE
 * [ctx_size_out M]]] [repeat N]: BPF_PROG_TEST_RUN, bpftool's syntax and output. Unlike bpftool
 * 7.1 (which always sends repeat 1), repeat stays 0 unless given, so syscall and raw_tp programs
 * run too. FILE may be '-' (stdin for inputs, stdout for outputs).
 */
export function progRun(args: string[], json: boolean): void {
  const sel = parseSelector(args, 'prog');
  const words = keywordArgs('prog run', sel.rest, { data_in: 1, data_out: 1, data_size_out: 1, ctx_in: 1, ctx_out: 1, ctx_size_out: 1, repeat: 1 });
  const kw = Object.fromEntries(Object.entries(words).map(([k, v]) => [k, v[0]!])) as Record<string, string>;
  const readIn = (f: string) => (f === '-' ? fs.readFileSync(0) : readInputFile(f, 'prog run input file'));
  const num = (k: string, dflt: number) => {
    if (kw[k] === undefined) return dflt;
    if (!/^\d+$/.test(kw[k]!)) throw new UsageError(`prog run: ${k} '${kw[k]}' is not a number`);
    return Number(kw[k]);
  };
  const dataIn = kw.data_in !== undefined ? readIn(kw.data_in) : undefined;
  const ctxIn = kw.ctx_in !== undefined ? readIn(kw.ctx_in) : undefined;
  // Output buffers: as large as asked, else room for what came in plus headroom (XDP may grow it).
  const dataOut = kw.data_out !== undefined ? Buffer.alloc(num('data_size_out', Math.max(dataIn?.length ?? 0, 0) + 4096)) : undefined;
  const ctxOut = kw.ctx_out !== undefined ? Buffer.alloc(num('ctx_size_out', Math.max(ctxIn?.length ?? 0, 256))) : undefined;
  const fds = openProgs(sel);
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    // A syscall program's context comes back in the input buffer; the kernel refuses ctx_out there.
    const syscallProg = progInfo(fds[0]!.value).type === ProgType.SYSCALL;
    const r = progTestRun(fds[0]!.value, { dataIn, dataOut, ctxIn, ctxOut: syscallProg ? undefined : ctxOut, repeat: num('repeat', 0) }, 'failed to run program');
    const write = (f: string, b: Buffer) => (f === '-' ? process.stdout.write(b) : fs.writeFileSync(f, b));
    if (dataOut) write(kw.data_out!, dataOut.subarray(0, r.dataSizeOut));
    if (ctxOut) write(kw.ctx_out!, syscallProg ? ctxIn ?? Buffer.alloc(0) : ctxOut.subarray(0, r.ctxSizeOut));
    if (json) process.stdout.write(jsonText({ retval: r.retval, duration: r.duration }) + '\n');
    else process.stdout.write(`Return value: ${r.retval >>> 0}, duration${num('repeat', 0) > 1 ? ' (average)' : ''}: ${r.duration}ns\n`);
  } finally {
    for (const f of fds) f.close();
  }
}
