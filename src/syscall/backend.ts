// The one seam to the kernel. Every syscall bee-ts makes goes through the `SyscallBackend`
// returned by sys(); tests may install a fake with useBackend(). Calls return the kernel's
// result, or -errno on failure (never throw), so fakes need no errno plumbing.
import { BeeTsError } from '../errors.js';

/** This machine cannot run bee-ts's kernel side (not Linux, an unsupported CPU, no syscall backend). */
export class PlatformError extends BeeTsError {
  constructor(message: string) {
    super('PLATFORM', message);
  }
}

export interface SyscallBackend {
  readonly name: string;
  bpf(cmd: number, attr: Uint8Array, size: number): number;
  /**
   * Optional: bpf(cmd, attr, size) for one attr buffer used many times (map element calls), with
   * its address taken once; returns 0/positive or -errno like bpf. Backends without it get bpf().
   */
  bpfFixed?(attr: Uint8Array, size: number): (cmd: number) => number;
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** ioctl with an integer argument. */
  ioctl(fd: number, request: number, arg: number): number;
  close(fd: number): number;
  /** F_DUPFD_CLOEXEC to at least `min`. */
  dupCloexec(fd: number, min: number): number;
  /** Returns the mapping address, or a negative errno as bigint. `addr` is a hint (or, with MAP_FIXED, the place). */
  mmap(length: number, prot: number, flags: number, fd: number, offset: number, addr?: bigint): bigint;
  munmap(addr: bigint, length: number): number;
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number, data: bigint): number;
  epollWait(epfd: number, events: Uint8Array, maxEvents: number, timeoutMs: number): number;
  /** epoll_wait on a worker thread: never blocks the event loop. */
  epollWaitAsync(epfd: number, events: Uint8Array, maxEvents: number, timeoutMs: number, cb: (r: number) => void): void;
  eventfd(initval: number, flags: number): number;
  /** socket(2) (netlink for TC and XDP attachment on kernels without BPF links). */
  socket(domain: number, type: number, protocol: number): number;
  /** setsockopt(2) with an int value. */
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  read(fd: number, buf: Uint8Array, len: number): number;
  /** flock(2): LOCK_EX | LOCK_NB and friends. */
  flock(fd: number, op: number): number;
  write(fd: number, buf: Uint8Array, len: number): number;
  getrlimit(resource: number): { cur: bigint; max: bigint } | number;
  setrlimit(resource: number, cur: bigint, max: bigint): number;
  /** Address of a buffer's bytes, to store inside a bpf_attr. The buffer must stay referenced. */
  addressOf(buf: Uint8Array): bigint;
  /** A zero-copy view of mapped memory. */
  view(addr: bigint, length: number): ArrayBuffer;
  pageSize(): number;
  /**
   * clock_gettime(2) in ns (CLOCK_REALTIME, CLOCK_BOOTTIME below), or -errno as a bigint. The
   * kernel stamps BPF objects with CLOCK_BOOTTIME; /proc/uptime has it only to 10 ms.
   */
  clockNs(clockId: number): bigint;
  /** uname(2): the running kernel's release and version strings. */
  uname(): { sysname: string; release: string; version: string; machine: string };
  /** Number of the calling thread's CPU count as the kernel sees possible CPUs. */
  numPossibleCpus(): number;
  /**
   * What kind of BPF object an fd holds, from its anon inode's name (what bpftool's get_fd_type
   * reads from /proc/self/fd): undefined for anything else.
   */
  bpfObjectKind(fd: number): BpfObjectKind | undefined;
}

export type BpfObjectKind = 'prog' | 'map' | 'link' | 'btf';

/** mmap(2) protection and flags, as the backend's mmap() takes them. */
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const CLOCK_REALTIME = 0;
export const CLOCK_BOOTTIME = 7;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
/** struct epoll_event is packed on x86_64 only (12 bytes), 16 elsewhere. */
export const EPOLL_EVENT_SIZE = process.arch === 'x64' ? 12 : 16;

let current: SyscallBackend | undefined;
let factory: (() => SyscallBackend) | undefined;

/** Registered by src/syscall/native.ts so kernel-free code never loads koffi. */
export function registerNativeBackend(f: () => SyscallBackend): void {
  factory = f;
}

export function sys(): SyscallBackend {
  if (current) return current;
  if (!factory) throw new PlatformError('no syscall backend: import "bee-ts/syscall/native" (done by the library entry points)');
  current = factory();
  return current;
}

/** The installed backend, or undefined when none has been made yet (never creates the native one, unlike sys()). */
export function currentBackend(): SyscallBackend | undefined {
  return current;
}

/** Install a backend (a fake in unit tests); returns a function restoring the previous one. */
export function useBackend(b: SyscallBackend): () => void {
  const prev = current;
  current = b;
  return () => {
    current = prev;
  };
}
