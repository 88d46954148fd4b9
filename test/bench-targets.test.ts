// bench/targets.mjs turns one `npm run bench` run's results into README's issue-13 target table:
// each row's met/not met must follow from the figures, the bounds computed as the issue states them.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs bench script, no declarations
import { targetRows, targetTable } from '../bench/targets.mjs';

interface Row { what: string; ours: string; peer: string; ratio: string; target: string; met: string }
const rows = (results: unknown[]): Row[] => targetRows(results);
const find = (rs: Row[], what: string) => rs.find((r) => r.what.includes(what))!;

describe('bench/targets.mjs', () => {
  it('computes the loadall bound as node -e 0 + 2x bpftool, and start-up against 1.5x node -e 0', () => {
    const load = { bench: 'load', rows: [{ command: 'node -e 0', wallMs: 80 }, { command: 'bee-ts CO-RE', wallMs: 115 }, { command: 'bpftool CO-RE', wallMs: 20 }, { command: 'bee-ts non-CO-RE', wallMs: 130 }, { command: 'bpftool non-CO-RE', wallMs: 5 }] };
    const startup = { bench: 'startup', rows: [{ command: 'node -e 0', wallMs: 100 }, { command: 'bee-ts --help', wallMs: 150 }, { command: 'bee-ts prog list', wallMs: 151 }] };
    const rs = rows([load, startup]);
    expect(find(rs, 'loadall`, CO-RE').met).toBe('met'); // 115 <= 80 + 2 x 20
    expect(find(rs, 'loadall`, CO-RE').peer).toContain('= 120.0 ms');
    expect(find(rs, 'non-CO-RE').met).toBe('–');
    expect(find(rs, '`--help`').met).toBe('met');
    expect(find(rs, '`prog list`').met).toBe('not met');
    const slower = rows([{ ...load, rows: load.rows.map((r) => (r.command === 'bee-ts CO-RE' ? { ...r, wallMs: 121 } : r)) }]);
    expect(find(slower, 'loadall`, CO-RE').met).toBe('not met');
  });

  it('btf dump, maps, run drops and ring drain rows', () => {
    const btf = { bench: 'btf', rows: [{ command: 'bee-ts raw', cpu: 200, rssMiB: 70 }, { command: 'bpftool raw', cpu: 100, rssMiB: 13 }, { command: 'bee-ts c', cpu: 210, rssMiB: 70 }, { command: 'bpftool c', cpu: 100, rssMiB: 13 }] };
    const maps = { bench: 'maps', rows: [
      { op: 'update', libbpfNs: 100, beeTsNs: 130, beeTsNumberKeyNs: 120 }, { op: 'lookup', libbpfNs: 100, beeTsNs: 100, beeTsNumberKeyNs: 140 },
      { op: 'delete', libbpfNs: 100, beeTsNs: 90, beeTsNumberKeyNs: 100 }, { op: 'lookup, a copy', libbpfNs: 100, beeTsNs: 150, beeTsNumberKeyNs: null },
      { op: 'dump', libbpfNs: 80, beeTsNs: 100, beeTsNumberKeyNs: null }] };
    const ev = { bench: 'run-events', rate: 100000, rows: [
      { tool: 'bee-ts', usPerEvent: 0.9, rounds: [{ drops: 0, afterProbe: 0 }, { drops: 12, afterProbe: 12 }] },
      { tool: 'bpftrace', usPerEvent: 5, rounds: [{ drops: 3 }, { drops: 0 }] }] };
    const rb = { bench: 'ringbuf', ratios: { 'bee-ts/libbpf consume 16B': 1.2, 'bee-ts/libbpf consume mixed sizes': 0.99 }, rows: [
      { impl: 'bee-ts', api: 'record', mode: 'consume', size: 16, recordsPerSec: 3.6e8 }, { impl: 'libbpf', mode: 'consume', size: 16, recordsPerSec: 3e8 }] };
    const rs = rows([btf, maps, ev, rb]);
    expect(find(rs, 'format raw').met).toBe('met');
    expect(find(rs, 'format c').met).toBe('not met');
    expect(find(rs, 'raw keys').met).toBe('met'); // 100/130 = 0.77
    expect(find(rs, 'number keys').met).toBe('not met'); // 100/140 = 0.71
    expect(find(rs, 'batch dump').met).toBe('met'); // 0.8
    // lookup(k)'s copy is printed without a target (libbpf's call makes none).
    expect(find(rs, 'returning a copy')).toMatchObject({ ratio: '0.67×', met: '–' });
    expect(find(rs, 'CPU per event').met).toBe('met');
    expect(find(rs, 'drops per round')).toMatchObject({ ours: '0, 12 (lost after the probe ran: 0, 12)', peer: 'bpftrace 3, 0', met: 'not met' });
    expect(find(rs, 'ring drain, 16 B')).toMatchObject({ ours: '360 M rec/CPU s', met: 'met' });
    expect(find(rs, 'ring drain, mixed').met).toBe('not met');
    expect(rs.some((r) => r.what.includes('64 B'))).toBe(false);
    expect(targetTable([btf]).split('\n')[0]).toMatch(/^\| what/);
  });
});
