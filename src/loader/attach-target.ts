// fentry/fexit/freplace against a BPF program (libbpf's set_attach_target(prog_fd, func)): the
// attach BTF id is the id of the function in the *target program's* BTF, and the program is
// loaded with attach_prog_fd set to the target.
import { parseBtf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { fdById } from '../syscall/bpf.js';
import { btfInfo, progInfo } from '../syscall/info.js';
import { BeeTsError } from '../errors.js';

/** The target program of an fentry/fexit/freplace is unusable (no BTF, no such function). */
export class LoadTargetError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('ATTACH_TARGET', message, options);
  }
}

export function targetProgramFuncId(progFd: number, func: string, subject: string): number {
  let btfId: number;
  try {
    btfId = progInfo(progFd).btfId;
  } catch (e) {
    throw new LoadTargetError(`${subject}: target program fd ${progFd} is not a BPF program (${(e as Error).message})`, { cause: e });
  }
  if (!btfId) throw new LoadTargetError(`${subject}: the target program (fd ${progFd}) was loaded without BTF; fentry/fexit/freplace on it need its BTF (compile it with clang -g)`);
  const fd = fdById('btf', btfId);
  try {
    const info = btfInfo(fd.value, true);
    const btf = parseBtf(info.data!, { file: `BTF of target program fd ${progFd}` });
    const f = btf.find(func, BtfKind.Func);
    if (!f) {
      const have: string[] = [];
      for (let id = 1; id < btf.count; id++) if (btf.kindOf(id) === BtfKind.Func) have.push(btf.nameOf(id));
      throw new LoadTargetError(`${subject}: the target program has no function '${func}' (it has ${have.join(', ') || 'none'})`);
    }
    return f.id;
  } finally {
    fd.close();
  }
}
