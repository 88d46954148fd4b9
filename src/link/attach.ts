// Attach a loaded program by its section (libbpf's auto-attach) or with explicit options. The
// work is done by the program's hook (kinds.ts; one file per hook in this folder, named by the
// SEC() table in src/loader/sections.ts). Every attachment returns a disposable Link.
import type { AttachableProgram, AttachHook, TargetOption } from './kinds.js';
import type { Link } from './link.js';

export { AttachError } from './kinds.js';
export { attachStructOps } from './struct-ops.js';
export { cgroup2Root } from './cgroup.js';

/** Attach by the program's section (its hook), like libbpf's bpf_program__attach; options as the hook takes them. */
export function attachProgram<O extends object>(p: AttachableProgram & { readonly hook: AttachHook<O> }, o: O & TargetOption = {} as O & TargetOption): Link {
  return p.hook.attach(p, o.target ?? p.spec.attachTarget, o);
}

/** Whether a program can auto-attach from its section alone (its hook's auto-attach rule). */
export function canAutoAttach(p: AttachableProgram): boolean {
  return p.hook.auto(p);
}
