// lirc_mode2 programs (4.18+, CONFIG_BPF_LIRC_MODE2): a raw IR decoder on a LIRC device
// (/dev/lircN of an rc-core receiver), run for every pulse/space sample the device reports.
// BPF_PROG_ATTACH with the device's fd as the target (attach type BPF_LIRC_MODE2), undone with
// PROG_DETACH naming the program; there is no BPF link for it. libbpf has no attach for it either
// (the caller uses bpf_prog_attach); `{ lirc: '/dev/lirc0' }` here.
import fs from 'node:fs';
import { sys } from '../syscall/backend.js';
import { progAttach, progDetach } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, ENOENT } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { AttachError, defineHook } from './kinds.js';
import { BaseLink } from './link.js';

export interface LircOptions {
  /** lirc_mode2: the LIRC device (a path like /dev/lirc0, or an open fd of one). */
  lirc?: string | number;
}

export const lircHook = defineHook('lirc_mode2', 'never', (p, _target, o: LircOptions) => {
  if (o.lirc === undefined) throw new AttachError(p.name, `a lirc_mode2 program decodes one LIRC device: pass { lirc: '/dev/lirc0' }`);
  let dev: Fd;
  const what = typeof o.lirc === 'number' ? `LIRC device fd ${o.lirc}` : `LIRC device ${o.lirc}`;
  if (typeof o.lirc === 'number') {
    const n = sys().dupCloexec(o.lirc, 3);
    if (n < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -n, what);
    dev = new Fd(n, what);
  } else {
    if (!fs.existsSync(o.lirc) || !fs.statSync(o.lirc).isCharacterDevice()) throw new AttachError(p.name, `${what} is not a character device (a LIRC receiver needs rc-core and its driver, e.g. modprobe rc-loopback)`);
    dev = new Fd(fs.openSync(o.lirc, fs.constants.O_RDWR), what);
  }
  const n = sys().dupCloexec(p.fd.value, 3);
  if (n < 0) {
    dev.close();
    throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -n, `program ${p.name}`);
  }
  const prog = new Fd(n, `program ${p.name}`);
  try {
    progAttach(dev.value, prog.value, AttachType.LIRC_MODE2, 0, `program '${p.name}': ${what}`);
  } catch (e) {
    prog.close();
    dev.close();
    throw e;
  }
  return new BaseLink('lirc_mode2', p.name, what, undefined, {
    owned: [prog, dev],
    detach: () => {
      const r = progDetach(dev.value, prog.value, AttachType.LIRC_MODE2);
      if (r < 0 && -r !== ENOENT) throw new BpfError('BPF_PROG_DETACH', -r, `program '${p.name}': ${what}`);
    },
  });
});
