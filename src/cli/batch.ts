// `batch file FILE` (and `batch file -` for stdin): bpftool's batch mode (main.c do_batch). The
// file is read as bpftool's fgets loop reads it: lines of at most 65535 bytes, everything from '#'
// on is a comment, a line ending in '\' continues on the next one, words are split at blanks or
// quoted with ' or " (make_args). Each command runs in this process; the first that fails stops
// the batch. With -j every command's output goes into one JSON array of {"command", "output"}.
import fs from 'node:fs';
import { CommanderError } from 'commander';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { BPFTOOL_COMMANDS, matchPrefix } from './argv.js';
import { errnoMessage } from '../syscall/errno.js';

/** bpftool's BATCH_LINE_LEN_MAX and BATCH_ARG_NB_MAX. */
const LINE_MAX = 65536;
const ARGS_MAX = 4096;

/** A batch file read as C's fgets(buf, 65536, fp) reads it, bytes as latin1 characters. */
class LineReader {
  private readonly chunk = Buffer.alloc(LINE_MAX);
  private pending = '';
  private eof = false;
  constructor(private readonly fd: number) {}

  /** The next line (up to and including '\n', at most 65535 bytes), or undefined at the end. */
  next(): string | undefined {
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl >= 0 && nl < LINE_MAX - 1) return this.take(nl + 1);
      if (this.pending.length >= LINE_MAX - 1) return this.take(LINE_MAX - 1);
      if (this.eof) return this.pending.length ? this.take(this.pending.length) : undefined;
      const n = this.read();
      if (n === 0) this.eof = true;
      else this.pending += this.chunk.toString('latin1', 0, n);
    }
  }

  private take(n: number): string {
    const line = this.pending.slice(0, n);
    this.pending = this.pending.slice(n);
    // C sees the line only up to a NUL byte.
    const nul = line.indexOf('\0');
    return nul >= 0 ? line.slice(0, nul) : line;
  }

  private read(): number {
    for (;;) {
      try {
        return fs.readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') {
          // A non-blocking stdin: wait a little for more input.
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
          continue;
        }
        if (code === 'EOF') return 0;
        throw e;
      }
    }
  }
}

/** A mistake in the batch file itself (bpftool's p_err in make_args and do_batch). */
class BatchFileError extends Error {}

/** bpftool's make_args: words split at " \t\r\n", a word starting with ' or " runs to the same quote. */
export function splitBatchLine(line: string, cmdNb: number): string[] {
  const ws = ' \t\r\n';
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && ws.includes(line[i]!)) i++;
    if (i >= line.length) break;
    if (words.length >= ARGS_MAX - 1) throw new BatchFileError(`too many arguments to command ${cmdNb}`);
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new BatchFileError(`unterminated quoted string in command ${cmdNb}`);
      words.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = i;
      while (end < line.length && !ws.includes(line[end]!)) end++;
      words.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return words.map((w) => Buffer.from(w, 'latin1').toString('utf8'));
}

const stripComment = (s: string) => {
  const h = s.indexOf('#');
  return h >= 0 ? s.slice(0, h) : s;
};

/** Runs one batch line as a bee-ts command (a fresh command tree, the same process). */
export type LineRunner = (argv: string[]) => Promise<void>;

/** Runs `fn` with everything written to stdout collected instead. */
async function captureStdout(fn: () => Promise<void>): Promise<{ text: string; error?: unknown }> {
  const parts: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown) => {
    parts.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = typeof enc === 'function' ? enc : cb;
    if (typeof done === 'function') process.nextTick(done as () => void);
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
    return { text: parts.join('') };
  } catch (error) {
    return { text: parts.join(''), error };
  } finally {
    process.stdout.write = write;
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).replace(/^error: /, '');

/** A command's failure as bee-ts reports it, and whether it was a usage mistake. */
function failure(e: unknown): { msg: string; usage: boolean } {
  if (e instanceof CommanderError) return { msg: message(e), usage: true };
  return { msg: message(e), usage: e instanceof UsageError };
}

export async function batchCommand(args: string[], runLine: LineRunner): Promise<void> {
  if (args.length < 2) throw new UsageError('too few parameters for batch');
  if (args.length > 2) throw new UsageError('too many parameters for batch');
  if (!'file'.startsWith(args[0]!) || args[0] === '') throw new UsageError(`expected 'file', got: ${args[0]}`);
  const file = args[1]!;
  let fd = 0;
  if (file !== '-') {
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOCTTY);
    } catch (e) {
      throw new CliExit(`Can't open file (${file}): ${errnoText(e)}`);
    }
  }
  const json = globals.json;
  const pretty = globals.pretty;
  const out = (s: string) => void process.stdout.write(s);
  let elements = 0;
  const element = (s: string) => out((elements++ ? ',' : '') + s);
  /** bpftool's p_err inside the batch: on stderr, or an {"error"} element of the array. */
  const perr = (msg: string) => {
    if (json) element(jsonText({ error: msg }, pretty, 1));
    else process.stderr.write(`Error: ${msg}\n`);
  };
  let failed: { usage: boolean } | undefined;
  let lines = 0;
  if (json) out('[');
  try {
    const reader = new LineReader(fd);
    let tooLong = false;
    for (let raw = reader.next(); raw !== undefined; raw = reader.next()) {
      let buf = stripComment(raw);
      if (buf.length === LINE_MAX - 1) {
        tooLong = true;
        break;
      }
      while (buf.includes('\\\n')) {
        const cont = reader.next();
        if (cont === undefined || cont.length === 0) throw new BatchFileError(`missing continuation line on command ${lines}`);
        const contline = stripComment(cont);
        if (buf.length + contline.length + 1 > LINE_MAX) throw new BatchFileError(`command ${lines} is too long`);
        buf = buf.slice(0, buf.length - 2) + contline;
      }
      const argv = splitBatchLine(buf, lines);
      if (argv.length === 0) continue;
      const saved = { ...globals };
      let result: { text: string; error?: unknown };
      if (json) {
        result = await captureStdout(() => runChecked(argv, runLine));
      } else {
        result = { text: '' };
        try {
          await runChecked(argv, runLine);
        } catch (error) {
          result.error = error;
        }
      }
      Object.assign(globals, saved);
      // A failure may come with what bpftool prints before it (`map lookup`: the key, "Not found").
      const before = result.error instanceof CliExit ? (result.error.stdout ?? '') : '';
      if (json) {
        let output = (result.text + before).replace(/\n$/, '');
        const msg = result.error !== undefined ? failure(result.error).msg : '';
        if (msg && output === '') output = jsonText({ error: msg }, pretty, 0);
        if (output === '') output = 'null';
        if (pretty) output = output.replace(/\n/g, '\n        ');
        const MARK = '\u0000batch-output\u0000';
        element(jsonText({ command: argv, output: MARK }, pretty, 1).replace(JSON.stringify(MARK), () => output));
      }
      if (result.error !== undefined) {
        const f = failure(result.error);
        if (!json) out(before);
        if (!json && f.msg && !(result.error instanceof CommanderError)) process.stderr.write(`Error: ${f.msg}\n`);
        failed = f;
        break;
      }
      lines++;
    }
    if (!failed) {
      if (tooLong) {
        perr('reading batch file failed: Argument list too long');
        failed = { usage: true };
      } else if (!json) out(`processed ${lines} commands\n`);
    }
  } catch (e) {
    if (!(e instanceof BatchFileError)) throw e;
    perr(e.message);
    failed = { usage: true };
  } finally {
    if (fd !== 0) fs.closeSync(fd);
  }
  if (json) out((pretty && elements ? '\n]' : ']') + '\n');
  // The failure is reported already: exit 2 for a usage mistake (in the file or a command), else 1.
  if (failed) throw failed.usage ? new UsageError('') : new CliExit('');
}

/** A batch line must be a bpftool command (an object, `help` or `version`), not one of bee's. */
async function runChecked(argv: string[], runLine: LineRunner): Promise<void> {
  const obj = matchPrefix(argv[0], BPFTOOL_COMMANDS['']!);
  if (obj === undefined) throw new UsageError(`'${argv[0]}' is not a bpftool command: batch lines are { ${BPFTOOL_COMMANDS['']!.join(' | ')} } commands`);
  await runLine(argv);
}

function errnoText(e: unknown): string {
  const errno = -((e as NodeJS.ErrnoException).errno ?? 0);
  return errno > 0 ? errnoMessage(errno) : message(e);
}
