// A kernel file descriptor that closes itself: on close()/dispose, or (safety net) when the
// wrapper is garbage-collected. Descriptors 0–2 are moved upwards so a BPF object can never be
// mistaken for stdin/stdout/stderr (libbpf does the same).
// Closing goes to the backend that was installed when the Fd was made (a fake's fd numbers are
// not this process's, and the reverse), not whichever is current by then. The constructor only
// looks at the installed one (currentBackend()): it never calls sys(), which would make the
// native backend, or throw PlatformError where there is none (tests build Fds from bare numbers
// with no backend). An Fd made with none installed closes through sys() when closed.
import { currentBackend, PlatformError, type SyscallBackend, sys } from './backend.js';
import { BeeTsError } from '../errors.js';
import { BpfError } from './errno.js';

/** A file descriptor used after close, or one that is not a descriptor at all. */
export class FdError extends BeeTsError {
  constructor(message: string) {
    super('FD', message);
  }
}

interface Owned {
  fd: number;
  /** The backend installed when the Fd was made; undefined: none was. */
  backend: SyscallBackend | undefined;
}

const registry = new FinalizationRegistry<Owned>((r) => {
  Fd.open--;
  try {
    (r.backend ?? sys()).close(r.fd);
  } catch (e) {
    // A finalizer must not throw: with no backend on this platform, no kernel made this number.
    if (!(e instanceof PlatformError)) throw e;
  }
});

export class Fd implements Disposable {
  /** Number of Fd objects not yet closed (leak checks in tests). */
  static open = 0;
  #fd: number;
  readonly #owned: Owned;

  constructor(
    fd: number,
    readonly what = 'fd',
  ) {
    if (fd < 0) throw new FdError(`invalid fd ${fd} for ${what}`);
    let backend = currentBackend();
    if (fd < 3) {
      backend ??= sys();
      const moved = backend.dupCloexec(fd, 3);
      backend.close(fd);
      if (moved < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -moved, what);
      fd = moved;
    }
    this.#fd = fd;
    this.#owned = { fd, backend };
    Fd.open++;
    registry.register(this, this.#owned, this);
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
    (this.#owned.backend ?? sys()).close(this.#fd);
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
