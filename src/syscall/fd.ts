// A kernel file descriptor that closes itself: on close()/dispose, or (safety net) when the
// wrapper is garbage-collected. Descriptors 0–2 are moved upwards so a BPF object can never be
// mistaken for stdin/stdout/stderr (libbpf does the same).
import { sys } from './backend.js';
import { BeeTsError } from '../errors.js';
import { BpfError } from './errno.js';

/** A file descriptor used after close, or one that is not a descriptor at all. */
export class FdError extends BeeTsError {
  constructor(message: string) {
    super('FD', message);
  }
}

const registry = new FinalizationRegistry<number>((fd) => {
  sys().close(fd);
  Fd.open--;
});

export class Fd implements Disposable {
  /** Number of Fd objects not yet closed (leak checks in tests). */
  static open = 0;
  #fd: number;

  constructor(
    fd: number,
    readonly what = 'fd',
  ) {
    if (fd < 0) throw new FdError(`invalid fd ${fd} for ${what}`);
    if (fd < 3) {
      const moved = sys().dupCloexec(fd, 3);
      sys().close(fd);
      if (moved < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -moved, what);
      fd = moved;
    }
    this.#fd = fd;
    Fd.open++;
    registry.register(this, fd, this);
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** The raw descriptor; throws once closed so a stale number is never reused by mistake. */
  get value(): number {
    if (this.#fd < 0) throw new FdError(`${this.what} is closed`);
    return this.#fd;
  }

  close(): void {
    if (this.#fd < 0) return;
    registry.unregister(this);
    sys().close(this.#fd);
    this.#fd = -1;
    Fd.open--;
  }

  /** Hand the descriptor over (e.g. to a pin or another owner); this wrapper forgets it. */
  release(): number {
    const fd = this.value;
    registry.unregister(this);
    this.#fd = -1;
    Fd.open--;
    return fd;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return this.#fd < 0 ? `${this.what}(closed)` : `${this.what}(${this.#fd})`;
  }
}
