// map event_pipe's record layouts (bpftool's print_bpf_output) for what a test cannot make the
// kernel produce on demand: lost-sample reports, unknown record types, data across lines.
import { describe, expect, it } from 'vitest';
import { eventJson, eventText, hexLayout } from '../src/cli/event-pipe.js';

describe('map event_pipe records', () => {
  it("bpftool's fprint_hex: spaces, two after each 8 bytes, a new line after each 16", () => {
    expect(hexLayout(Uint8Array.from({ length: 20 }, (_, i) => i))).toBe('00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13');
    expect(hexLayout(new Uint8Array())).toBe('');
  });

  it('samples, lost reports and unknown records, plain and JSON', () => {
    const sample = { type: 9, cpu: 1, key: 1, size: 32, time: 5_000_000_042n, data: Uint8Array.of(1, 2) };
    expect(eventText(sample, 1)).toBe('== @5.000000042 CPU: 1 index: 1 =====\n01 02\n');
    expect(eventJson(sample, 1)).toEqual({ type: 9, cpu: 1, index: 1, timestamp: 5_000_000_042n, data: [1, 2] });
    const lost = { type: 2, cpu: 0, key: 0, size: 24, lostId: 7n, lost: 3n };
    expect(eventText(lost, 0)).toBe('lost 3 events\n');
    expect(eventJson(lost, 0)).toEqual({ type: 2, cpu: 0, index: 0, lost: { id: 7n, count: 3n } });
    expect(eventText({ type: 14, cpu: 0, key: 0, size: 40 }, 0)).toBe('unknown event type=14 size=40\n');
  });
});
