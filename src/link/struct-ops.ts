// Registering a struct_ops map with its kernel subsystem. The map value (program fds in the
// function-pointer slots) is written with BPF_MAP_UPDATE_ELEM; for a plain `.struct_ops` map that
// update registers it (and deleting the element unregisters it), for a `.struct_ops.link` map
// (BPF_F_LINK, 6.4+) the update only readies it and BPF_LINK_CREATE(BPF_STRUCT_OPS) registers it
// for as long as the link lives.
import { BeeTsError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { Cmd, ElemAttr, linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EBUSY, EEXIST, EINVAL, ENOENT } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { AttachError, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export class StructOpsRegisterError extends BeeTsError {
  constructor(
    readonly map: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('STRUCT_OPS_REGISTER', `struct_ops '${map}': ${message}`, options);
  }
}

const KEY0 = new Uint8Array(4);

function explain(map: string, typeName: string, e: BpfError): never {
  const hint =
    e.errno === EEXIST
      ? `a ${typeName} with the same name is already registered (give it another name, e.g. obj.setStructOps('${map}', 'name', ...) before load)`
      : e.errno === EINVAL
        ? `the kernel refused the value (a required callback missing, a field it does not accept, or an empty name)`
        : e.code;
  throw new StructOpsRegisterError(map, `cannot register ${typeName}: ${e.message}\n  hint: ${hint}`, { cause: e });
}

/** A struct_ops map ready to register, as the loader's BpfObject.structOpsMap() gives it. */
export interface RegistrableStructOps {
  map: { readonly fd: Fd };
  /** The kernel value: program fds in the function-pointer slots. */
  image: Uint8Array;
  /** Declared in `.struct_ops.link`: registered through a BPF link. */
  link: boolean;
  /** The kernel struct (`tcp_congestion_ops`). */
  typeName: string;
}

/** Register `name` from a loaded object; the returned link unregisters it on close/dispose. */
export function attachStructOps(obj: { structOpsMap(name: string): RegistrableStructOps }, name: string): Link {
  const { map, image, link, typeName } = obj.structOpsMap(name);
  // Our own reference to the map: unregistering (delete) must work even if the object closed first.
  const dup = sys().dupCloexec(map.fd.value, 3);
  if (dup < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -dup, `struct_ops '${name}'`);
  const own = new Fd(dup, `struct_ops map ${name}`);
  try {
    const elem = new ElemAttr(own.value);
    const r = elem.call(Cmd.MAP_UPDATE_ELEM, KEY0, image, 0);
    // A link map already readied once (registered before) answers EBUSY: its value is fixed, reuse it.
    if (r < 0 && !(link && -r === EBUSY)) explain(name, typeName, new BpfError('BPF_MAP_UPDATE_ELEM', -r, `struct_ops '${name}'`));
    if (!link) {
      return new BaseLink('struct_ops', name, typeName, undefined, {
        owned: [own],
        detach: () => {
          const d = elem.call(Cmd.MAP_DELETE_ELEM, KEY0, null);
          if (d < 0 && -d !== ENOENT) throw new BpfError('BPF_MAP_DELETE_ELEM', -d, `unregister struct_ops '${name}'`);
        },
      });
    }
    let fd: Fd;
    try {
      // link_create.map_fd shares the slot of prog_fd.
      fd = linkCreate({ progFd: own.value, targetFd: 0, attachType: AttachType.STRUCT_OPS }, `struct_ops '${name}'`);
    } catch (e) {
      if (e instanceof BpfError) explain(name, typeName, e);
      throw e;
    }
    return new BaseLink('struct_ops', name, typeName, fd, { owned: [own] });
  } catch (e) {
    own.close();
    throw e;
  }
}

/** struct_ops programs are not attached one by one: the struct_ops map that names them is registered. */
export const structOpsHook = defineHook('struct_ops', 'never', (p) => {
  throw new AttachError(p.name, `struct_ops programs are registered through the struct_ops map that names them: obj.registerStructOps('<map>') (or attachAll)`);
});
