// The poller's timer delay (src/ringbuf/poller.ts nextDelay): how full the fullest ring was when a
// round drained it, over how long it filled, sets when the next round comes.
import { describe, expect, it } from 'vitest';
import { BUSY_DRAIN, COALESCE_MS, nextDelay, TARGET_FILL } from '../src/ringbuf/poller.js';

describe('poller round delay', () => {
  it('a ring that filled little waits the longest delay; an empty one too', () => {
    // examples/opensnoop.o's 1 MiB ring at 100 k records/s of 168 bytes: 5 ms fill 8 %.
    expect(nextDelay(500, (500 * 168) / (1 << 20), 5)).toBe(COALESCE_MS);
    expect(nextDelay(0, 0, 5)).toBe(COALESCE_MS);
    expect(nextDelay(3, 0.001, 5)).toBe(COALESCE_MS);
  });
  it('the next round comes when the ring should be TARGET_FILL full at the rate it filled', () => {
    expect(TARGET_FILL).toBe(1 / 8);
    expect(nextDelay(1000, 0.25, 4)).toBe(2); // 4 ms × (1/8) / (1/4)
    expect(nextDelay(1000, 0.125, 3)).toBe(3);
    expect(nextDelay(1000, 0.3, 8)).toBe(3); // 3.33 rounds to 3
  });
  it('never sooner than 1 ms nor later than COALESCE_MS', () => {
    expect(nextDelay(6000, 1, 5)).toBe(1);
    expect(nextDelay(6000, 0.9, 0.2)).toBe(1);
    // A ring that took 100 ms (the process descheduled) to fill a quarter: the longest delay.
    expect(nextDelay(6000, 0.25, 100)).toBe(COALESCE_MS);
  });
  it('buffers that cannot say how full they were (perf buffers) go by the record count', () => {
    expect(nextDelay(BUSY_DRAIN, undefined, 5)).toBe(1);
    expect(nextDelay(BUSY_DRAIN - 1, undefined, 5)).toBe(COALESCE_MS);
  });
});
