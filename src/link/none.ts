// Sections with no attach point of their own (SEC("tc"), "classifier",
// "xdp/devmap", "syscall", unknown sections...): attaching is refused with what to do instead.
// A SCHED_CLS program (legacy SEC("tc") / SEC("classifier")) given an interface attaches as TC.
import { ProgType } from '../syscall/constants.js';
import { AttachError, defineHook } from './kinds.js';
import { attachTc, type TcOptions } from './tcx.js';

export const noAttach = defineHook('none', 'never', (p, _target, o: TcOptions) => {
  if (p.spec.progType === ProgType.SCHED_CLS && o.iface !== undefined) return attachTc(p, o);
  throw new AttachError(p.name, `section '${p.section}' has no automatic attach point (none); attach it explicitly`);
});
