// Shared memory of a kernel object (a ring buffer, a perf ring, a data-section map) seen from JS
// as one ArrayBuffer, with a lifetime JS cannot break:
// - close() does not munmap: it maps anonymous zero pages over the same range (MAP_FIXED swaps
//   them in atomically), which drops the kernel object's pages at once. A DataView the caller
//   kept reads zeros from then on instead of faulting the process (SIGSEGV).
// - the address range itself is released (munmap) when the ArrayBuffer is garbage-collected, so
//   nothing can read it any more. That is also the safety net for an owner dropped without
//   close(): its kernel mapping goes when the last view of it does.
// Both go to the backend that made the mapping, not whichever is current by then (a fake's
// addresses are not this process's).
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE, type SyscallBackend, sys } from './backend.js';
import fs from 'node:fs';
import { BpfError } from './errno.js';

interface Range {
  addr: bigint;
  length: number;
  backend: SyscallBackend;
}

const unmapWhenCollected = new FinalizationRegistry<Range>((r) => {
  r.backend.munmap(r.addr, r.length);
  Mapping.live--;
});

export class Mapping {
  /** Address ranges still reserved (kernel pages or zero pages), for leak checks in tests. */
  static live = 0;
  readonly buffer: ArrayBuffer;
  #closed = false;

  private constructor(
    readonly addr: bigint,
    readonly length: number,
    private readonly backend: SyscallBackend,
  ) {
    this.buffer = backend.view(addr, length);
    Mapping.live++;
    unmapWhenCollected.register(this.buffer, { addr, length, backend });
  }

  /** mmap(MAP_SHARED) `length` bytes of `fd` at `offset`; throws a BpfError naming `what`. */
  static shared(length: number, prot: number, fd: number, offset: number, what: string): Mapping {
    const b = sys();
    const addr = b.mmap(length, prot, MAP_SHARED, fd, offset);
    if (addr < 0n) throw new BpfError('mmap', Number(-addr), what);
    try {
      return new Mapping(addr, length, b);
    } catch (e) {
      b.munmap(addr, length);
      throw e;
    }
  }

  /**
   * Anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS, read-write): one range of this process
   * that several threads view (`view(addr, length)` in a worker gives an ArrayBuffer over the same
   * bytes). Unlike a SharedArrayBuffer, copies into it are plain memcpy (V8 copies into shared
   * buffers with relaxed atomic word copies, ~3x slower).
   */
  static anonymousShared(length: number, what: string): Mapping {
    const b = sys();
    const addr = b.mmap(length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (addr < 0n) throw new BpfError('mmap', Number(-addr), what);
    try {
      return new Mapping(addr, length, b);
    } catch (e) {
      b.munmap(addr, length);
      throw e;
    }
  }

  /**
   * A regular file mapped read-only and private (PROT_READ, MAP_PRIVATE), at most `maxBytes`, or
   * undefined when it cannot be (the kernel or file system has no mmap for it, an empty or
   * oversized file, a fake backend, which cannot map a real file): the caller reads it instead.
   * Made for /sys/kernel/btf/vmlinux, which Linux 6.16+ maps (the kernel image's own BTF pages, no
   * copy and no page faults) where reading it takes ~1350 read(2) calls of 4 KiB. The pages are
   * not writable: `buffer` is for reading only (a store into it faults the process).
   */
  static readOnlyFile(path: string, maxBytes: number): Mapping | undefined {
    let b: SyscallBackend;
    try {
      b = sys();
    } catch {
      return undefined;
    }
    if (b.name !== 'native') return undefined;
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch {
      return undefined;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size === 0 || st.size > maxBytes) return undefined;
      const addr = b.mmap(st.size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (addr < 0n) return undefined;
      try {
        return new Mapping(addr, st.size, b);
      } catch {
        b.munmap(addr, st.size);
        return undefined;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Let go of the kernel object's pages; views of `buffer` read zeros from now on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const r = this.backend.mmap(this.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0, this.addr);
    // Should the swap ever fail, the kernel pages stay mapped (a stale read sees old data, never
    // a fault) until the buffer is collected.
    void r;
  }
}
