// `bee-ts run` under real conditions, above the kernel: Go durations and long timers, the bounded
// JSON lines queue under backpressure, drop reports, RE2 filters, bounded metrics and their
// shutdown, pin names.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseFilters, passes } from '../src/bee/filter.js';
import { BeeMetrics } from '../src/bee/metrics.js';
import { pinName } from '../src/bee/pins.js';
import { longTimeout, MAX_TIMER_MS } from '../src/bee/runner.js';
import { JsonLinesSink } from '../src/bee/sink.js';
import { RunStats } from '../src/bee/stats.js';
import { parseDuration, parseRunOptions } from '../src/cli/run.js';
import { planWatches } from '../src/bee/watch.js';
import { parseObject } from '../src/loader/spec.js';
import { readFixture } from './helpers.js';
import { compileJsonLine } from '../src/bee/jsonline.js';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType } from '../src/btf/types.js';

const spec = (f: string) => parseObject(readFixture(f));

describe('durations (Go time.ParseDuration)', () => {
  it('reads Go durations, with fractions and several units', () => {
    expect(parseDuration('300ms', '--duration')).toBe(300);
    expect(parseDuration('1.5s', '--duration')).toBe(1500);
    expect(parseDuration('1h30m', '--duration')).toBe(5_400_000);
    expect(parseDuration('40000m', '--duration')).toBe(2_400_000_000);
    expect(parseDuration('2m3.5s', '--duration')).toBe(123_500);
    expect(parseDuration('1500us', '--duration')).toBe(1.5);
    expect(parseDuration('1500µs', '--duration')).toBe(1.5);
  });
  it('refuses a bare number with a hint, and garbage, zero and overflow', () => {
    expect(() => parseDuration('60', '--duration')).toThrow(/'60' has no unit: write a Go duration such as 60s, 60ms or 1h30m/);
    expect(() => parseDuration('10x', '--duration')).toThrow(/is not a duration/);
    expect(() => parseDuration('s', '--duration')).toThrow(/is not a duration/);
    expect(() => parseDuration('0s', '--duration')).toThrow(/must be positive/);
    expect(() => parseDuration('3000000h', '--duration')).toThrow(/longer than a Go duration/);
  });
  it('a poll interval past what a timer can wait is refused, not fired at once', () => {
    const base = { tty: false, promPort: '9091', promAddress: '127.0.0.1', metrics: true };
    expect(() => parseRunOptions({ ...base, pollInterval: '40000m' })).toThrow(/--poll-interval: '40000m' is longer than bee-ts can wait/);
    expect(parseRunOptions({ ...base, pollInterval: '1s', duration: '40000m' }).durationMs).toBe(2_400_000_000);
    expect(() => parseRunOptions({ ...base, pollInterval: '1s', maxSeries: '0' })).toThrow(/--max-series: '0' is not a positive whole number/);
  });
  it('longTimeout waits past 2^31-1 ms instead of firing at once (setTimeout would, after 1 ms)', async () => {
    let fired = 0;
    const cancel = longTimeout(() => fired++, MAX_TIMER_MS + 10_000, false);
    let plain = 0;
    const t = setTimeout(() => plain++, MAX_TIMER_MS + 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(plain).toBe(1); // what the old code relied on: Node fires an oversized timer after 1 ms
    expect(fired).toBe(0);
    cancel();
    clearTimeout(t);
    let short = 0;
    longTimeout(() => short++, 20, false);
    await new Promise((r) => setTimeout(r, 80));
    expect(short).toBe(1);
  });
});

/** A stdout that takes `capacity` bytes, then reports backpressure until drain() is called. */
class SlowOut extends EventEmitter {
  written = '';
  held = 0;
  constructor(readonly capacity: number) {
    super();
  }
  write(chunk: string): boolean {
    this.written += chunk;
    this.held += chunk.length;
    return this.held < this.capacity;
  }
  drain(): void {
    this.held = 0;
    this.emit('drain');
  }
}

describe('JSON lines output', () => {
  it('respects backpressure: holds at most the bound, drops and counts the rest, resumes on drain', async () => {
    const out = new SlowOut(1000);
    const stats = new RunStats();
    const sink = new JsonLinesSink(out, { maxQueueBytes: 10_000, stats });
    const entry = { pid: '1', comm: 'x'.repeat(60) };
    const lineLen = JSON.stringify({ entry, mapName: 'print_x' }).length + 1;
    for (let i = 0; i < 2000; i++) sink.event('print_x', entry);
    sink.flush();
    // Nothing was written past the first chunk that filled the pipe: the rest waits or is dropped.
    expect(out.listenerCount('drain')).toBe(1);
    const firstWrite = out.written.length;
    expect(sink.pendingBytes).toBeLessThanOrEqual(10_000);
    expect(sink.dropped).toBeGreaterThan(0);
    expect(stats.of('print_x').dropped.output_queue).toBe(sink.dropped);
    const kept = firstWrite / lineLen + sink.pendingBytes / lineLen;
    expect(kept + sink.dropped).toBe(2000);
    out.drain();
    await new Promise((r) => setImmediate(r));
    const lines = out.written.trim().split('\n');
    expect(lines).toHaveLength(2000 - sink.dropped); // everything that was kept arrives, in one piece
    expect(lines.every((l) => JSON.parse(l).mapName === 'print_x')).toBe(true);
    expect(stats.report('last 10s')).toBe(`bee-ts: last 10s: print_x: ${sink.dropped} dropped at the output queue (stdout too slow)`);
    expect(stats.report('last 10s')).toBeUndefined(); // nothing new: no line
  });

  it("a map's compiled writer fills the same bounded queue: lines arrive whole and in order, the rest is dropped and counted", async () => {
    const out = new SlowOut(1000);
    const stats = new RunStats();
    const sink = new JsonLinesSink(out, { maxQueueBytes: 20_000, stats });
    const btf = parseBtf(encodeBtf([
      { kind: BtfKind.Void, id: 0, name: '' },
      { kind: BtfKind.Int, id: 1, name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
      { kind: BtfKind.Struct, id: 2, name: 'ev', size: 8, kflag: false, members: [{ name: 'seq', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'pid', type: 1, bitOffset: 32, bitfieldSize: 0 }] },
    ] as BtfType[]));
    const write = sink.eventWriter('print_x', compileJsonLine(btf, 2, 'print_x'));
    const rec = new DataView(new ArrayBuffer(8));
    const lines = (s: string) => s.trim().split('\n');
    // One batch per turn of the loop; this one fills the pipe (write() says wait for 'drain').
    for (let i = 0; i < 30; i++) (rec.setUint32(0, i, true), write(rec, 0));
    expect(out.written).toBe('');
    await new Promise((r) => setImmediate(r));
    expect(lines(out.written)).toEqual(Array.from({ length: 30 }, (_, i) => `{"entry":{"pid":"0","seq":"${i}"},"mapName":"print_x"}`));
    expect(out.listenerCount('drain')).toBe(1);
    const first = out.written.length;
    // Blocked: at most the bound waits (batched, then held), the rest is dropped.
    for (let i = 30; i < 5000; i++) (rec.setUint32(0, i, true), write(rec, 0));
    await new Promise((r) => setImmediate(r));
    expect(out.written.length).toBe(first);
    expect(sink.pendingBytes).toBeLessThanOrEqual(20_000);
    expect(sink.dropped).toBeGreaterThan(0);
    expect(stats.of('print_x').dropped.output_queue).toBe(sink.dropped);
    out.drain();
    await new Promise((r) => setImmediate(r));
    const got = lines(out.written);
    expect(got).toHaveLength(5000 - sink.dropped);
    // Whole lines, in order, with no gaps inside what was kept.
    const seqs = got.map((l) => Number(JSON.parse(l).entry.seq));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i));
  });

  it('a map that becomes empty prints one empty snapshot; one that never had entries prints nothing', () => {
    const out: string[] = [];
    const s = new JsonLinesSink((x) => out.push(x));
    s.snapshot('never', []);
    s.snapshot('conns', [{ key: { a: '1' }, keyLabels: {}, value: '3' }]);
    s.snapshot('conns', []);
    s.snapshot('conns', []);
    s.flush();
    expect(out.join('').trim().split('\n')).toEqual(['{"entries":[{"key":{"a":"1"},"value":"3"}],"mapName":"conns"}', '{"entries":[],"mapName":"conns"}']);
  });
});

describe('filters are RE2 (linear time, Go syntax)', () => {
  const w = planWatches(spec('bee_suffix.bpfel.o'));
  it('(a+)+$ on a 100k-character string stays fast', () => {
    const f = parseFilters(['events,comm,(a+)+$'], w);
    const long = 'a'.repeat(100_000) + 'b';
    const t = process.cpuUsage();
    expect(passes(f, 'events', { comm: long })).toBe(false);
    // A backtracking engine takes exponential time here (it never finishes); RE2 ~0.1 s of CPU
    // (CPU time: a loaded host stretches wall time, not the work).
    const used = process.cpuUsage(t);
    expect((used.user + used.system) / 1000).toBeLessThan(5000);
  });
  it("bee's Go syntax ports unchanged: (?P<name>...), unanchored; lookaround is refused as Go refuses it", () => {
    expect(passes(parseFilters(['events,comm,^(?P<tool>cat|less)$'], w), 'events', { comm: 'cat' })).toBe(true);
    expect(passes(parseFilters(['events,pid,0'], w), 'events', { pid: '1000' })).toBe(true);
    expect(() => parseFilters(['events,comm,(?=a)'], w)).toThrow(/invalid regex '\(\?=a\)'/);
    expect(() => parseFilters(['events,comm,(a)\\1'], w)).toThrow(/invalid regex/);
  });
});

describe('metrics stay bounded and shut down', () => {
  const w = planWatches(spec('bee_prefix.bpfel.o'));
  it('an event-fed metric keeps at most --max-series series, evicting the oldest, and counts evictions', async () => {
    const m = new BeeMetrics(w, { maxSeries: 3, processMetrics: false });
    for (let pid = 1; pid <= 10; pid++) m.onEvent('hist_latency', { comm: 'x', pid: String(pid), le: '5' });
    m.onEvent('hist_latency', { comm: 'x', pid: '8', le: '5' }); // refreshed: 9 is now the oldest
    m.onEvent('hist_latency', { comm: 'x', pid: '11', le: '5' });
    const t = await m.registry.metrics();
    const pids = [...t.matchAll(/ebpf_solo_io_hist_latency_count\{comm="x",pid="(\d+)"\}/g)].map((x) => x[1]).sort();
    expect(pids).toEqual(['10', '11', '8']);
    expect(t).toContain('bee_ts_series_evicted_total{metric="ebpf_solo_io_hist_latency"} 8');
  });
  it('a polled map past the bound exports the first entries and says how many it left out', async () => {
    const m = new BeeMetrics(w, { maxSeries: 2, processMetrics: false });
    m.onSnapshot('gauge_by_uid', [1, 2, 3, 4].map((u) => ({ key: { uid: String(u) }, value: '1' })));
    const t = await m.registry.metrics();
    expect(t.match(/ebpf_solo_io_gauge_by_uid\{/g)).toHaveLength(2);
    expect(t).toContain('bee_ts_series_refused{metric="ebpf_solo_io_gauge_by_uid"} 2');
  });
  it('drop counts and process metrics are exported', async () => {
    const stats = new RunStats();
    stats.drop('print_events', 'output_queue', 5);
    stats.of('print_events').records = 9;
    const m = new BeeMetrics(w, { stats });
    const t = await m.registry.metrics();
    expect(t).toContain('bee_ts_records_dropped_total{map="print_events",reason="output_queue"} 5');
    expect(t).toContain('bee_ts_records_dropped_total{map="print_events",reason="perf_lost"} 0');
    expect(t).toContain('bee_ts_records_total{map="print_events"} 9');
    expect(t).toMatch(/^process_resident_memory_bytes \d+/m);
  });
  it("a perf reader's lost samples and a ring reader's full-ring sightings reach stderr and /metrics, each named for what it counts", async () => {
    const stats = new RunStats();
    const reader = { lost: 0, fullSeen: 0 };
    const st = stats.of('print_perf');
    stats.refreshers.push(() => (st.dropped.perf_lost = reader.lost), () => (st.ringFullSightings = reader.fullSeen));
    const m = new BeeMetrics([], { stats, processMetrics: false });
    reader.lost = 74;
    reader.fullSeen = 2;
    expect(await m.registry.metrics()).toContain('bee_ts_records_dropped_total{map="print_perf",reason="perf_lost"} 74');
    const page = await m.registry.metrics();
    expect(page).toContain('bee_ts_ring_full_sightings_total{map="print_perf"} 2');
    // Sightings are not drops: no record count claims them, and the HELP says who counts records.
    expect(page).not.toMatch(/reason="ring_full"/);
    expect(page).toMatch(/^# HELP bee_ts_ring_full_sightings_total bee-ts: drains that found a ring buffer full .*A count of sightings, not of lost records.*only the probe can count those/m);
    stats.refresh();
    expect(stats.report('last 10s')).toBe('bee-ts: last 10s: print_perf: 74 lost in the kernel (perf buffer full), ring buffer found full at 2 drains (records the kernel could not reserve then are not counted here; only the probe can count them)');
    reader.lost = 80;
    stats.refresh();
    expect(stats.report('last 10s')).toBe('bee-ts: last 10s: print_perf: 6 lost in the kernel (perf buffer full)');
    expect(stats.summary()).toBe('bee-ts: in total: print_perf: 80 lost in the kernel (perf buffer full), ring buffer found full at 2 drains (records the kernel could not reserve then are not counted here; only the probe can count them)');
  });
  it('close() ends even with a half-sent request in flight', async () => {
    const m = new BeeMetrics(w, { processMetrics: false });
    await m.listen(0, '127.0.0.1');
    const port = Number(m.address!.split(':').pop());
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    const closed = await Promise.race([m.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))]);
    expect(closed).toBe('closed');
    expect(performance.now() - t).toBeLessThan(3000);
    sock.destroy();
  });
});

describe('pin names', () => {
  it('cannot leave the pin directory', () => {
    expect(pinName('../../victim')).toBe('_._.._victim');
    expect(pinName('a/b')).toBe('a_b');
    expect(pinName('..')).toBe('_.');
    expect(pinName('.hidden')).toBe('_hidden');
    expect(pinName('trace_openat')).toBe('trace_openat');
    expect(pinName('')).toBe('_');
  });
});
