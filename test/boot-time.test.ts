// loaded_at: a CLOCK_BOOTTIME stamp turned into wall-clock seconds as bpftool's print_boot_time
// does (REALTIME - BOOTTIME + stamp, in whole ns, truncated), so both tools print the same second
// even when the stamp sits a few ms before a second boundary.
import { afterEach, describe, expect, it } from 'vitest';
import { CLOCK_BOOTTIME, CLOCK_REALTIME, useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { bootTimeToEpoch } from '../src/syscall/info.js';

let restore: (() => void) | undefined;
afterEach(() => restore?.());

describe('bootTimeToEpoch', () => {
  it('adds the REALTIME - BOOTTIME offset in ns and truncates once', () => {
    const b = new FakeBackend();
    restore = useBackend(b);
    b.clocks[CLOCK_REALTIME] = 1_700_000_100_000_000_000n; // 1_700_000_100 s exactly
    b.clocks[CLOCK_BOOTTIME] = 100_004_000_000n; // 100.004 s since boot
    // Offset 1_699_999_999.996 s: a stamp at 10.003 s lands at ...009.999, one at 10.004 s at ...010.000.
    expect(bootTimeToEpoch(10_003_000_000n)).toBe(1_700_000_009);
    expect(bootTimeToEpoch(10_004_000_000n)).toBe(1_700_000_010);
  });

  it('prints the stamp\'s own seconds when a clock cannot be read, as bpftool does', () => {
    const b = new FakeBackend();
    restore = useBackend(b);
    delete b.clocks[CLOCK_BOOTTIME];
    expect(bootTimeToEpoch(12_900_000_000n)).toBe(12);
  });
});
