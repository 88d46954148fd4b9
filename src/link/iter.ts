// BPF iterators (SEC("iter/<target>"), 5.8+): BPF_LINK_CREATE with BPF_TRACE_ITER makes a link;
// each BPF_ITER_CREATE on it starts one walk whose output is read(2) from the returned fd until
// it returns 0. Targets that walk one object take it in bpf_iter_link_info: a map
// (bpf_map_elem, bpf_sk_storage_map, sockmap), a task/process (task, task_file, task_vma; 6.1+),
// or a cgroup (cgroup; 6.1+).
import { sys } from '../syscall/backend.js';
import { iterCreate, linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINTR, EINVAL } from '../syscall/errno.js';
import { BeeTsError, NotSupportedError } from '../errors.js';
import type { Fd } from '../syscall/fd.js';
import { type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink } from './link.js';

/** What one iterator walks, for targets that take a single object (bpf_iter_link_info). */
export interface IterOptions {
  /** bpf_map_elem, bpf_sk_storage_map, sockmap: the map (or its fd) to walk. */
  map?: { readonly fd: Fd } | number;
  /** task, task_file, task_vma: only this thread (6.1+). */
  tid?: number;
  /** task, task_file, task_vma: only this process's threads (6.1+). */
  pid?: number;
  /** task, task_file, task_vma: only the process behind this pidfd (6.1+). */
  pidFd?: number;
  /** cgroup: the cgroup (an fd of its directory) and the walk order (6.1+). */
  cgroupFd?: number;
  cgroupOrder?: 'self' | 'descendants_pre' | 'descendants_post' | 'ancestors_up';
}

/** sizeof(union bpf_iter_link_info). */
const LINK_INFO_SIZE = 16;
const CGROUP_ORDER = { self: 1, descendants_pre: 2, descendants_post: 3, ancestors_up: 4 } as const;
/** Default bound of read(): an iterator's output is produced by the kernel, unbounded by itself. */
export const ITER_READ_MAX = 64 << 20;
const CHUNK = 64 << 10;

export function iterLinkInfo(o: IterOptions): Uint8Array | undefined {
  const info = Buffer.alloc(LINK_INFO_SIZE);
  if (o.map !== undefined) {
    info.writeUInt32LE(typeof o.map === 'number' ? o.map : o.map.fd.value, 0);
    return info;
  }
  if (o.cgroupFd !== undefined) {
    info.writeUInt32LE(CGROUP_ORDER[o.cgroupOrder ?? 'self'], 0);
    info.writeUInt32LE(o.cgroupFd, 4);
    return info;
  }
  if (o.tid !== undefined || o.pid !== undefined || o.pidFd !== undefined) {
    info.writeUInt32LE(o.tid ?? 0, 0);
    info.writeUInt32LE(o.pid ?? 0, 4);
    info.writeUInt32LE(o.pidFd ?? 0, 8);
    return info;
  }
  return undefined;
}

/** An iterator link: read its output whole (`read()`), or chunk by chunk (`for await`). */
export class IterLink extends BaseLink {
  /** One walk of the iterator, as bytes; throws past `maxBytes`. */
  readBytes(maxBytes = ITER_READ_MAX): Buffer {
    const chunks: Buffer[] = [];
    let total = 0;
    for (const c of this.walk()) {
      total += c.length;
      if (total > maxBytes) throw new BeeTsError('ATTACH', `iterator '${this.program}' (${this.target}) wrote more than ${maxBytes} bytes; read it chunk by chunk with for await (const chunk of link)`);
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  /** One walk of the iterator, as text. */
  read(maxBytes = ITER_READ_MAX): string {
    return this.readBytes(maxBytes).toString('utf8');
  }

  /** One walk, chunk by chunk (each chunk a copy). */
  *walk(): Generator<Buffer> {
    if (!this.fd || this.fd.closed) throw new BeeTsError('ATTACH', `iterator '${this.program}' is closed`);
    const fd = iterCreate(this.fd.value, `iterator '${this.program}'`);
    try {
      const buf = Buffer.alloc(CHUNK);
      for (;;) {
        const n = sys().read(fd.value, buf, buf.length);
        if (n === -EINTR) continue;
        if (n < 0) throw new BpfError('read(iterator)', -n, `iterator '${this.program}'`);
        if (n === 0) return;
        yield Buffer.from(buf.subarray(0, n));
      }
    } finally {
      fd.close();
    }
  }

  /** `for await (const chunk of link)`: one walk, yielding to the event loop between chunks. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (const c of this.walk()) {
      yield c;
      await new Promise((r) => setImmediate(r));
    }
  }
}

export function attachIter(p: AttachableProgram, o: IterOptions = {}): IterLink {
  const target = p.spec.attachTarget;
  const info = iterLinkInfo(o);
  const what = `iterator ${target}${info ? ` (${o.map !== undefined ? 'map' : o.cgroupFd !== undefined ? 'cgroup' : 'task'} given)` : ''}`;
  let fd: Fd;
  try {
    fd = linkCreate(
      {
        progFd: p.fd.value,
        targetFd: 0,
        attachType: AttachType.TRACE_ITER,
        extra: info ? (a) => a.ptr(16, info).u32(24, info.length) : undefined,
      },
      `program '${p.name}': ${what}`,
    );
  } catch (e) {
    if (e instanceof BpfError && e.errno === EINVAL && info && o.map === undefined)
      throw new NotSupportedError(`iterator ${target} limited to one ${o.cgroupFd !== undefined ? 'cgroup' : 'task'}`, '6.1', sys().uname().release, `program '${p.name}'`, { cause: e });
    throw e;
  }
  return new IterLink('iter', p.name, target, fd);
}

export interface IterAttachOptions {
  /** The one map, task or cgroup to walk (targets that take one). */
  iter?: IterOptions;
}

export const iterHook = defineHook('iter', 'always', (p, _target, o: IterAttachOptions) => attachIter(p, o.iter));
