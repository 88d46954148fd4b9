// bee conventions above the kernel: formats, watch planning, filters, metrics, JSON lines, TUI.
import { describe, expect, it } from 'vitest';
import { errnoName, flattenLabels, goDuration, goFloat, ipv6, sortKeys } from '../src/bee/format.js';
import { FilterError, parseFilters, passes } from '../src/bee/filter.js';
import { BeeMetrics } from '../src/bee/metrics.js';
import { JsonLinesSink } from '../src/bee/sink.js';
import { MAX_EVENT_ROWS, TuiSink } from '../src/bee/tui.js';
import { beeRoles, mapBeeRole } from '../src/bee/roles.js';
import { RunStats } from '../src/bee/stats.js';
import { planWatches, WatchError } from '../src/bee/watch.js';
import { type MapSpec, parseObject, SpecError } from '../src/loader/spec.js';
import { readFixture } from './helpers.js';

const spec = (n: string) => parseObject(readFixture(n), { file: n });

describe('Go-compatible formats', () => {
  it('floats like %v', () => {
    expect([3.14, 100000, 1e6, 1e-5, 1234567, 0.0001, -2.5, 0].map((x) => goFloat(x))).toEqual(['3.14', '100000', '1e+06', '1e-05', '1.234567e+06', '0.0001', '-2.5', '0']);
    expect(goFloat(Math.fround(0.1), 32)).toBe('0.1');
  });
  it('durations like time.Duration', () => {
    expect([0n, 999n, 1500n, 1234567n, 1_500_000_000n, 60_000_000_000n, 3_600_000_000_000n, 7_384_000_000_005n].map(goDuration)).toEqual([
      '0s', '999ns', '1.5µs', '1.234567ms', '1.5s', '1m0s', '1h0m0s', '2h3m4.000000005s',
    ]);
    // Go would wrap values >= 2^63 negative; we print the true value.
    expect(goDuration(1n << 63n)).toBe('2562047h47m16.854775808s');
  });
  it('IPv6 per RFC 5952 and errno names', () => {
    expect(ipv6(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe('2001:db8::1');
    expect(ipv6(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]))).toBe('2001:db8:0:1::1');
    expect(ipv6(new Uint8Array(16))).toBe('::');
    expect([errnoName(-2), errnoName(13), errnoName(0), errnoName(9999)]).toEqual(['ENOENT', 'EACCES', '0', '9999']);
  });
  it('labels flatten nested values; JSON keys sort', () => {
    expect(flattenLabels({ a: '1', n: { x: '2', y: '3' }, arr: ['1', '2'] })).toEqual({ a: '1', n_x: '2', n_y: '3', arr: '["1","2"]' });
    expect(JSON.stringify(sortKeys({ z: '1', a: { d: '2', b: '3' } }))).toBe('{"a":{"b":"3","d":"2"},"z":"1"}');
  });
});

describe('map roles', () => {
  const roles = (n: string) => Object.fromEntries(beeRoles(spec(n)));
  it("bee's .maps.<role> suffix convention; unmarked maps have none", () => {
    const s = spec('bee_suffix.bpfel.o');
    expect(roles('bee_suffix.bpfel.o')).toEqual({
      sockets_counter: { role: 'counter', source: 'suffix' },
      open_gauge: { role: 'gauge', source: 'suffix' },
      events: { role: 'print', source: 'suffix' },
    });
    // Helper maps in .maps and global data maps: created for the program, never watched.
    expect(s.maps.filter((m) => !mapBeeRole(m, s.file)).map((m) => m.name).sort()).toEqual(['bee_suff.bss', 'bee_suff.rodata', 'start'].sort());
  });
  it("bee's name-prefix convention", () => {
    const r = roles('bee_prefix.bpfel.o');
    expect(r.print_events).toEqual({ role: 'print', source: 'prefix' });
    expect([r.counter_by_uid?.role, r.gauge_by_uid?.role, r.hist_latency?.role]).toEqual(['counter', 'gauge', 'hist']);
  });
  it('declared maps only: a legacy definition by its prefix; data, .kconfig and struct_ops maps never, whatever their name', () => {
    const m = (over: Partial<MapSpec>): MapSpec => ({ name: 'counter_x', type: 1, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, pinning: 0, mapExtra: 0n, section: 'maps', source: 'legacy', ...over });
    expect(mapBeeRole(m({}))).toEqual({ role: 'counter', source: 'prefix' });
    expect(mapBeeRole(m({ name: 'plain' }))).toBeUndefined();
    // An object named print_x.o has data maps named print_x.rodata, ...
    expect(mapBeeRole(m({ name: 'print_x.rodata', section: '.rodata', source: 'data' }))).toBeUndefined();
    expect(mapBeeRole(m({ name: 'print_x.kconfig', section: '.kconfig', source: 'kconfig' }))).toBeUndefined();
    expect(mapBeeRole(m({ name: 'print_ops', section: '.struct_ops.link', source: 'btf' }))).toBeUndefined();
    // bee found the kind anywhere in the section's suffix.
    expect(mapBeeRole(m({ name: 'events', section: '.maps.my_print_maps', source: 'btf' }))).toEqual({ role: 'print', source: 'suffix' });
    expect(mapBeeRole(m({ name: 'events', section: '.maps.other', source: 'btf' }))).toBeUndefined();
    expect(mapBeeRole(m({ name: 'gauge_x', section: '.maps.gauge', source: 'btf' }))).toEqual({ role: 'gauge', source: 'prefix' });
  });
  it('refuses a prefix that disagrees with the section suffix, naming the file and the map, where bee uses the object', () => {
    const s = spec('bad_role.bpfel.o');
    const message = /^bad_role\.bpfel\.o: map 'counter_conflict': name prefix says 'counter' but section \.maps\.print says 'print'; use one convention$/;
    for (const f of [() => beeRoles(s), () => planWatches(s), () => mapBeeRole(s.maps.find((m) => m.name === 'counter_conflict')!, s.file)]) {
      expect(f).toThrow(SpecError);
      expect(f).toThrow(message);
      expect(f).toThrow(expect.objectContaining({ code: 'SPEC_INVALID', file: 'bad_role.bpfel.o', subject: "map 'counter_conflict'" }));
    }
  });
});

describe('watch planning', () => {
  it('finds roles in both conventions and leaves helper maps alone', () => {
    const w = planWatches(spec('bee_suffix.bpfel.o'));
    expect(w.map((x) => [x.name, x.role, x.kind])).toEqual([
      ['sockets_counter', 'counter', 'poll'],
      ['open_gauge', 'gauge', 'poll'],
      ['events', 'print', 'events'],
    ]);
    expect(w.find((x) => x.name === 'events')!.labels).toEqual(['comm', 'daddr', 'ok', 'pid', 'proto', 'took']);
    const p = planWatches(spec('bee_prefix.bpfel.o'));
    const hist = p.find((x) => x.name === 'hist_latency')!;
    expect(hist.valueField).toBe('le');
    expect(hist.labels).toEqual(['comm', 'pid']);
    expect(hist.buckets).toEqual([0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
  });
  it('takes -k and -b, and explains what is wrong', () => {
    const p = planWatches(spec('bee_prefix.bpfel.o'), { histValueKeys: new Map([['hist_latency', 'le']]), histBuckets: new Map([['hist_latency', [1, 2]]]) });
    expect(p.find((x) => x.name === 'hist_latency')).toMatchObject({ valueField: 'le', labels: ['comm', 'pid'], buckets: [1, 2] });
    // Observing another field would leave 'le' as a label, which Prometheus reserves: our error, not prom-client's.
    expect(() => planWatches(spec('bee_prefix.bpfel.o'), { histValueKeys: new Map([['hist_latency', 'pid']]) })).toThrow(/map 'hist_latency': field 'le' would become a label, but Prometheus reserves 'le'/);
    // A text field cannot be observed.
    expect(() => planWatches(spec('bee_prefix.bpfel.o'), { histValueKeys: new Map([['hist_latency', 'comm']]) })).toThrow(/map 'hist_latency': field 'comm' is not a number .*needs an integer field/);
    expect(() => planWatches(spec('bee_prefix.bpfel.o'), { histValueKeys: new Map([['hist_latency', 'nope']]) })).toThrow(/map 'hist_latency': has no field 'nope'/);
    expect(() => planWatches(spec('bee_prefix.bpfel.o'), { histValueKeys: new Map([['hist_latency', 'nope']]) })).toThrow(WatchError);
  });
});

describe('filters', () => {
  const w = planWatches(spec('bee_suffix.bpfel.o'));
  it('parse bee syntax (CSV per occurrence) and validate', () => {
    const f = parseFilters(['events,comm,^cat$', 'events,pid,"1,2"'], w);
    expect(f.map((x) => [x.map, x.field, x.source])).toEqual([
      ['events', 'comm', '^cat$'],
      ['events', 'pid', '1,2'],
    ]);
    expect(passes(f.slice(0, 1), 'events', { comm: 'cat' })).toBe(true);
    expect(passes(f.slice(0, 1), 'events', { comm: 'bash' })).toBe(false);
    expect(passes(f, 'other', {})).toBe(true);
    expect(() => parseFilters(['events,comm'], w)).toThrow(/each filter should have 3 fields \(map,field,regex\), found 2 fields total/);
    expect(() => parseFilters(['nope,comm,x'], w)).toThrow(/map 'nope' is not watched/);
    expect(() => parseFilters(['events,value,x'], w)).toThrow(/has no field 'value'/);
    expect(() => parseFilters(['events,comm,(unclosed'], w)).toThrow(FilterError);
  });
});

describe('metrics', () => {
  const w = planWatches(spec('bee_prefix.bpfel.o'));
  it('counter hashes mirror the kernel, survive a decrease, drop vanished entries', async () => {
    const m = new BeeMetrics(w);
    const text = () => m.registry.metrics();
    m.onSnapshot('counter_by_uid', [{ key: { uid: '0' }, value: '5' }]);
    expect(await text()).toContain('ebpf_solo_io_counter_by_uid{uid="0"} 5');
    m.onSnapshot('counter_by_uid', [{ key: { uid: '0' }, value: '7' }]);
    expect(await text()).toContain('ebpf_solo_io_counter_by_uid{uid="0"} 7');
    m.onSnapshot('counter_by_uid', [{ key: { uid: '0' }, value: '3' }]);
    expect(await text()).toContain('ebpf_solo_io_counter_by_uid{uid="0"} 3');
    m.onSnapshot('counter_by_uid', []);
    expect(await text()).not.toContain('ebpf_solo_io_counter_by_uid{');
    expect(await text()).toContain('# TYPE ebpf_solo_io_counter_by_uid counter');
    expect(await text()).toMatch(/# HELP ebpf_solo_io_counter_by_uid \S/);
  });
  it('gauges follow values; histograms observe le; print maps have no metric', async () => {
    const m = new BeeMetrics(w);
    m.onSnapshot('gauge_by_uid', [{ key: { uid: '1' }, value: '4' }]);
    m.onSnapshot('gauge_by_uid', [{ key: { uid: '1' }, value: '2' }]);
    m.onEvent('hist_latency', { comm: 'x', pid: '1', le: '15' });
    m.onEvent('hist_latency', { comm: 'x', pid: '1', le: '700' });
    m.onEvent('print_events', { comm: 'x', pid: '1', le: '1' });
    const t = await m.registry.metrics();
    expect(t).toContain('ebpf_solo_io_gauge_by_uid{uid="1"} 2');
    expect(t).toContain('ebpf_solo_io_hist_latency_bucket{le="20",comm="x",pid="1"} 1');
    expect(t).toContain('ebpf_solo_io_hist_latency_bucket{le="+Inf",comm="x",pid="1"} 2');
    expect(t).toContain('ebpf_solo_io_hist_latency_sum{comm="x",pid="1"} 715');
    expect(t).toContain('ebpf_solo_io_hist_latency_count{comm="x",pid="1"} 2');
    expect(t).not.toContain('print_events');
  });
});

describe('output', () => {
  it('JSON lines: entry/entries then mapName, values as strings, unchanged snapshots skipped', () => {
    const out: string[] = [];
    const s = new JsonLinesSink((x) => out.push(x));
    s.event('events', { pid: '1', comm: 'a' });
    s.snapshot('counts', [{ key: { b: '2', a: '1' }, keyLabels: {}, value: '2' }]);
    s.snapshot('counts', [{ key: { b: '2', a: '1' }, keyLabels: {}, value: '2' }]);
    s.snapshot('empty', []);
    s.flush();
    expect(out.join('').trim().split('\n')).toEqual(['{"entry":{"comm":"a","pid":"1"},"mapName":"events"}', '{"entries":[{"key":{"a":"1","b":"2"},"value":"2"}],"mapName":"counts"}']);
  });
  it('the TUI shows a tab per map, sorted columns, values, and errors', () => {
    const w = planWatches(spec('bee_suffix.bpfel.o'));
    const fakeOut = { columns: 120, rows: 30, write: () => true, on: () => fakeOut, isTTY: false } as unknown as NodeJS.WriteStream;
    const fakeIn = { isTTY: false, on: () => fakeIn, off: () => fakeIn, pause: () => fakeIn } as unknown as NodeJS.ReadStream;
    const tui = new TuiSink(() => {}, fakeOut, fakeIn);
    tui.start(w, { file: 'probe.o', metrics: '0.0.0.0:9091' });
    tui.snapshot('sockets_counter', [{ key: {}, keyLabels: { daddr: '1.2.3.4', saddr: '10.0.0.1' }, value: '7' }]);
    tui.error('something broke');
    const frame = tui.frame(120, 30).join('\n').replace(/\x1b\[[0-9;]*m/g, '');
    expect(frame).toContain('Program location: probe.o');
    expect(frame).toMatch(/sockets_counter \(counter, 1 keys\)/);
    expect(frame).toMatch(/│ daddr\s+│ saddr\s+│ value │/);
    expect(frame).toMatch(/│ 1\.2\.3\.4\s+│ 10\.0\.0\.1\s+│ 7\s+│/);
    expect(frame).toContain('Error: something broke');
    tui.stop();
  });
  it('the TUI counts the rows it drops (stderr summary and /metrics), reports in its footer, and skips frames a stalled terminal has not taken', async () => {
    const w = planWatches(spec('bee_suffix.bpfel.o'));
    const written: string[] = [];
    const fakeOut = { columns: 120, rows: 30, writableNeedDrain: false, write: (s: string) => (written.push(s), true), on: () => fakeOut, isTTY: false } as unknown as NodeJS.WriteStream & { writableNeedDrain: boolean };
    const fakeIn = { isTTY: false, on: () => fakeIn, off: () => fakeIn, pause: () => fakeIn } as unknown as NodeJS.ReadStream;
    const stats = new RunStats();
    const tui = new TuiSink(() => {}, fakeOut, fakeIn);
    tui.useStats(stats);
    tui.start(w, { file: 'probe.o' });
    for (let i = 0; i < MAX_EVENT_ROWS + 250; i++) tui.event('events', {}, { pid: String(i) });
    expect(stats.of('events').dropped.tui_rows).toBe(250);
    const plain = () => tui.frame(400, 30).join('\n').replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain()).toContain(`events (print, ${MAX_EVENT_ROWS + 250} events, 250 dropped from view)`);
    expect(await new BeeMetrics(w, { stats, processMetrics: false }).registry.metrics()).toContain('bee_ts_records_dropped_total{map="events",reason="tui_rows"} 250');
    const line = stats.report('last 10s')!;
    expect(line).toBe('bee-ts: last 10s: events: 250 dropped from the terminal view (it keeps the newest 1000 rows per map)');
    tui.statsLine(line, false);
    expect(plain()).toContain(line); // in the footer, not on stderr under the screen
    // A terminal that stopped reading: no frame is queued behind the ones it has not taken.
    fakeOut.writableNeedDrain = true;
    const before = written.length;
    tui.event('events', {}, { pid: 'x' });
    await new Promise((r) => setTimeout(r, 350));
    expect(written.length).toBe(before);
    expect(tui.skippedFrames).toBeGreaterThan(0);
    const err: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      tui.statsLine(stats.summary()!, true);
      tui.stop();
    } finally {
      process.stderr.write = orig;
    }
    expect(err).toEqual(['bee-ts: in total: events: 251 dropped from the terminal view (it keeps the newest 1000 rows per map)\n']);
  });
});
