// `bee-ts run --pin-progs DIR` / `--pin-maps DIR`: pins bee-ts may write, and the only pins it
// may remove. Runs as root, so nothing from the object or the directory is trusted:
// - a program's pin name is sanitized (no `/`, no leading `.`): it cannot leave DIR;
// - an existing pin is replaced only when it is a pinned program of the same name and type
//   (BPF_OBJ_GET, then the fd's kind and info); anything else is an error, never deleted;
// - DIR must be a real directory (not a symlink), and it is locked (flock on the directory, held
//   for the run), so two runs cannot consume one pinned ring buffer or replace each other's pins.
import fs from 'node:fs';
import { BeeTsError } from '../errors.js';
import path from 'node:path';
import { LOCK_EX, LOCK_NB, sys } from '../syscall/backend.js';
import { objGet, objName } from '../syscall/bpf.js';
import { progTypeName } from '../syscall/constants.js';
import { BpfError } from '../syscall/errno.js';
import { fdinfoKind, progInfo } from '../syscall/info.js';

export class PinError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('PIN', message, options);
  }
}

const EWOULDBLOCK = 11;

/** A file name for a pin: [A-Za-z0-9_.-] only, not starting with a dot, at most 255 bytes. */
export function pinName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\./, '_').slice(0, 255);
  return s || '_';
}

/** Create DIR (0700) when missing; refuse a symlink or a non-directory. */
export function pinDir(dir: string, flag: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new PinError(`${flag} ${dir}: not a directory (a symlink is refused: name the real directory)`);
}

/**
 * Lock DIR for this run (released when the returned fd is closed, or at exit). Throws when
 * another process holds it.
 */
export function lockPinDir(dir: string, flag: string): number {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  const r = sys().flock(fd, LOCK_EX | LOCK_NB);
  if (r < 0) {
    fs.closeSync(fd);
    if (-r === EWOULDBLOCK) throw new PinError(`${flag} ${dir}: in use by another bee-ts run (it holds the directory's lock); two runs cannot share pinned maps or programs: stop it, or use another directory`);
    throw new BpfError('flock', -r, `${flag} ${dir}`);
  }
  return fd;
}

/**
 * Make room for program `name` (of BPF program type `type`) at DIR/pinName(name): nothing there,
 * or an earlier pin of the same program, which is removed. Returns the path to pin at.
 */
export function programPinPath(dir: string, name: string, type: number): string {
  const target = path.join(dir, pinName(name));
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch {
    return target;
  }
  const refuse = (what: string): never => {
    throw new PinError(`--pin-progs: ${target} exists and ${what}; bee-ts replaces only its own program pins: remove it, or choose another directory`);
  };
  if (!st.isFile()) refuse('is not a BPF pin');
  let fd;
  try {
    fd = objGet(target, 0, `pin ${target}`);
  } catch {
    return refuse('is not a BPF pin');
  }
  try {
    const kind = fdinfoKind(fd.value);
    if (kind !== 'prog') refuse(kind ? `is a pinned ${kind}, not a program` : 'is not a BPF pin');
    const info = progInfo(fd.value);
    if (info.name !== objName(name)) refuse(`is the pinned program '${info.name}', not '${objName(name)}'`);
    if (info.type !== type) refuse(`is a ${progTypeName(info.type)} program, not ${progTypeName(type)}`);
  } finally {
    fd.close();
  }
  fs.unlinkSync(target);
  return target;
}
