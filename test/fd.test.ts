// Fd closes through the backend that was installed when it was made, never through one swapped
// in later (a fake's fd numbers are not this process's), and building one looks at the installed
// backend only: with none, no PlatformError and no native backend made.
import { describe, expect, it } from 'vitest';
import { currentBackend, useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { Fd } from '../src/syscall/fd.js';

/** A fake that logs the fds closed through it (and dups fds 0-2 to 500+). */
function logging(): FakeBackend & { closed: number[] } {
  const b = Object.assign(new FakeBackend(), { closed: [] as number[] });
  let next = 500;
  b.close = (fd: number) => {
    b.closed.push(fd);
    return 0;
  };
  b.dupCloexec = () => next++;
  return b;
}

describe('Fd and the syscall backend', () => {
  it('with no backend installed, an Fd is built from a bare number without making one', () => {
    expect(currentBackend()).toBeUndefined();
    const before = Fd.open;
    const fd = new Fd(99, 'prog');
    expect(fd.value).toBe(99);
    expect(currentBackend()).toBeUndefined();
    expect(Fd.open).toBe(before + 1);
    // Closed once a backend is installed: through that one (the number was never a backend's).
    const a = logging();
    const restore = useBackend(a);
    try {
      fd.close();
    } finally {
      restore();
    }
    expect(a.closed).toEqual([99]);
    expect(Fd.open).toBe(before);
  });

  it('closes through the backend that made it, not the one installed at close time', () => {
    const a = logging();
    const b = logging();
    const restoreA = useBackend(a);
    let fd: Fd;
    let low: Fd;
    try {
      fd = new Fd(123, 'map');
      low = new Fd(1, 'map'); // moved above stderr through the same backend
    } finally {
      restoreA();
    }
    expect(a.closed).toEqual([1]);
    expect(low.value).toBe(500);
    const restoreB = useBackend(b);
    try {
      fd.close();
      low.close();
      fd.close(); // a second close does nothing
    } finally {
      restoreB();
    }
    expect(a.closed).toEqual([1, 123, 500]);
    expect(b.closed).toEqual([]);
    expect(currentBackend()).toBeUndefined();
  });

  it('release hands the number over: nothing is closed', () => {
    const a = logging();
    const restore = useBackend(a);
    try {
      const fd = new Fd(321, 'link');
      expect(fd.release()).toBe(321);
      fd.close();
      expect(fd.closed).toBe(true);
    } finally {
      restore();
    }
    expect(a.closed).toEqual([]);
  });
});
