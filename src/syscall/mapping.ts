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
