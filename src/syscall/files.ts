// Reading files that come from outside (objects, --btf, image blobs, config files) as a root
// process should: regular files only, opened without blocking (a FIFO or a tty neither blocks
// the open nor the read), read to EOF with a byte bound (/dev/zero, a growing file or a huge
// file is an error, not an endless read), never trusting st_size alone (sysfs reports 4096).
import type { randomBytes as RandomBytes } from 'node:crypto';
import { BeeTsError } from '../errors.js';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** node:crypto's randomBytes, loaded on the first atomic write: importing node:crypto costs ~4 ms of CPU in every command that reads a file (btf dump, prog list, ...) and only writes use it. */
let randomBytes: typeof RandomBytes | undefined;

export class InputFileError extends BeeTsError {
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super('INPUT_FILE', `${file}: ${reason}`, options);
  }
}

/** Objects, BTF and programs: far above any real one (vmlinux BTF is ~6 MiB), far below memory. */
export const MAX_INPUT_FILE = 512 << 20;

function fileKind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * The bytes of a regular file, at most `maxBytes`. `what` names the file's role in errors
 * ("object file", "--btf file"). Symlinks to regular files are followed (the user named them).
 */
export function readInputFile(file: string, what = 'input file', maxBytes = MAX_INPUT_FILE): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputFileError(file, `cannot open the ${what}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`, { cause: e });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new InputFileError(file, `the ${what} must be a regular file, and this is ${fileKind(st)}`);
    if (st.size > maxBytes) throw new InputFileError(file, `the ${what} is ${st.size} bytes, more than the ${maxBytes}-byte limit`);
    const chunks: Buffer[] = [];
    let total = 0;
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    for (;;) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new InputFileError(file, `the ${what} is more than the ${maxBytes}-byte limit`);
      buf = Buffer.allocUnsafe(Math.min(maxBytes + 1 - total, 1 << 16));
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(file, `cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Write `data` to `file` atomically and without following planted links: a new temporary file in
 * the same directory, created O_EXCL|O_NOFOLLOW with a random name and `mode`, written, synced and
 * renamed over `file` (rename replaces a symlink at `file` itself, never its target). An existing
 * file is replaced, so its old mode does not survive: a 0644 config becomes `mode`.
 */
export function writeFileAtomic(file: string, data: Uint8Array | string, mode = 0o644): void {
  const dir = path.dirname(file);
  randomBytes ??= (createRequire(import.meta.url)('node:crypto') as { randomBytes: typeof RandomBytes }).randomBytes;
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
  try {
    try {
      fs.fchmodSync(fd, mode); // the umask may have taken bits away; never adds any beyond `mode`
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
