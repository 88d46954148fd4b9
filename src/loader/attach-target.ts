// The attach BTF id of a program that names its target by BTF (libbpf's
// libbpf_find_attach_btf_id): in the kernel's BTF for tp_btf, lsm, iter and fentry/fexit on a
// kernel function; for fentry/fexit/freplace against a BPF program (libbpf's
// set_attach_target(prog_fd, func)) the id of the function in the *target program's* BTF, and
// the program is loaded with attach_prog_fd set to the target.
import { parseBtf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { fdById } from '../syscall/bpf.js';
import { btfInfo, progInfo } from '../syscall/info.js';
import { BeeTsError } from '../errors.js';
import { kernelBtf } from './btf-files.js';
import { LoadError } from './load-error.js';
import type { ProgramSpec } from './spec.js';

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

/** The attach target's id in the running kernel's BTF (vmlinux), by the section's naming rule. */
export function kernelTargetId(p: ProgramSpec, file: string): number {
  const k = kernelBtf();
  if (!k) throw new LoadError(file, `program '${p.name}' (${p.section}) needs kernel BTF (/sys/kernel/btf/vmlinux)`);
  const target = p.attachTarget;
  let id: number | undefined;
  if (p.section.startsWith('tp_btf')) id = k.findIds(`btf_trace_${target}`, BtfKind.Typedef)[0];
  else if (p.section.startsWith('lsm')) id = k.find(`bpf_lsm_${target}`, BtfKind.Func)?.id;
  else if (p.section.startsWith('iter')) id = k.find(`bpf_iter_${target}`, BtfKind.Func)?.id;
  else id = k.find(target.split(':').pop()!, BtfKind.Func)?.id;
  if (!id) throw new LoadError(file, `program '${p.name}': attach target '${target}' of ${p.section} is not in the kernel BTF`);
  return id;
}
