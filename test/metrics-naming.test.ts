// Metric naming schemes, bee-ts's own metrics and the health endpoints, above the kernel. The
// Prometheus scheme is checked by Prometheus' own linter (`promtool check metrics`, Debian's
// prometheus package); bee's default scheme keeps bee's names (which promtool rejects, as it
// rejects bee's own output).
import { spawnSync } from 'node:child_process';
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BeeMetrics } from '../src/bee/metrics.js';
import { nameLabel, nameMetric, snakeCase } from '../src/bee/naming.js';
import { planWatches } from '../src/bee/watch.js';
import { parseObject } from '../src/loader/spec.js';
import { hasCommand, need, readFixture } from './helpers.js';

const watches = (n: string) => planWatches(parseObject(readFixture(n), { file: n }));
const skipPromtool = need(hasCommand('promtool'), 'promtool (apt-get install prometheus) checks the exposition format');

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('metric names', () => {
  it("bee's scheme is ebpf_solo_io_<map>, unchanged", () => {
    expect(nameMetric('counter_connections', 'counter', 'bee').name).toBe('ebpf_solo_io_counter_connections');
    expect(nameMetric('hist_read_latency_us', 'hist', 'bee').name).toBe('ebpf_solo_io_hist_read_latency_us');
    expect(nameLabel('srcAddr', 'bee')).toBe('srcAddr');
  });

  it("Prometheus' scheme: role words dropped, base units, _total on counters, snake_case", () => {
    const n = (map: string, role: 'counter' | 'gauge' | 'hist') => nameMetric(map, role, 'prometheus').name;
    expect(n('counter_connections', 'counter')).toBe('ebpf_connections_total');
    expect(n('sockets_counter', 'counter')).toBe('ebpf_sockets_total');
    expect(n('gauge_active', 'gauge')).toBe('ebpf_active');
    expect(n('open_gauge', 'gauge')).toBe('ebpf_open');
    expect(n('hist_read_latency_us', 'hist')).toBe('ebpf_read_latency_seconds');
    expect(n('gauge_queueDepthMs', 'gauge')).toBe('ebpf_queue_depth_seconds');
    expect(n('counter_rx_bytes', 'counter')).toBe('ebpf_rx_bytes_total');
    expect(n('counter_rx_bytes_kb', 'counter')).toBe('ebpf_rx_bytes_total');
    expect(n('gauge_total', 'gauge')).toBe('ebpf_value');
    expect(nameLabel('srcAddr', 'prometheus')).toBe('src_addr');
    expect(nameLabel('__x', 'prometheus')).toBe('x');
    expect(snakeCase('HTTPServerLatencyUS')).toBe('http_server_latency_us');
  });

  it('values convert exactly to the base unit', () => {
    const us = nameMetric('hist_read_latency_us', 'hist', 'prometheus');
    expect([0, 10, 20, 50, 1000, 5000].map(us.convert)).toEqual([0, 0.00001, 0.00002, 0.00005, 0.001, 0.005]);
    expect(nameMetric('gauge_wait_ns', 'gauge', 'prometheus').convert(1500)).toBe(0.0000015);
    expect(nameMetric('gauge_up_minutes', 'gauge', 'prometheus').convert(2)).toBe(120);
    expect(nameMetric('gauge_rss_kib', 'gauge', 'prometheus').convert(3)).toBe(3072);
    expect(nameMetric('counter_connections', 'counter', 'prometheus').convert(7)).toBe(7);
  });
});

async function feed(m: BeeMetrics): Promise<string> {
  m.onSnapshot('counter_by_uid', [{ key: { uid: '0' }, value: '5' }]);
  m.onSnapshot('gauge_by_uid', [{ key: { uid: '1' }, value: '4' }]);
  m.onEvent('hist_latency', { comm: 'x', pid: '1', le: '15' });
  m.onEvent('hist_latency', { comm: 'x', pid: '1', le: '700' });
  return m.text();
}

describe('BeeMetrics with each scheme', () => {
  it('prometheus: converted names and values, bee-ts self-metrics; promtool check metrics passes', async () => {
    const m = new BeeMetrics(watches('bee_prefix.bpfel.o'), { naming: 'prometheus', attached: 1, build: { version: '9.9.9', probe: 'p.o', probeDigest: 'sha256:00' } });
    const t = await feed(m);
    expect(t).toContain('# TYPE ebpf_by_uid_total counter');
    expect(t).toContain('ebpf_by_uid_total{uid="0"} 5');
    expect(t).toContain('ebpf_by_uid{uid="1"} 4');
    expect(t).toContain('ebpf_latency_bucket{le="20",comm="x",pid="1"} 1');
    expect(t).toContain('bee_ts_build_info{version="9.9.9",node_version="' + process.version + '",probe="p.o",probe_digest="sha256:00"} 1');
    expect(t).toContain('bee_ts_programs_attached 1');
    expect(t).toMatch(/bee_ts_last_poll_timestamp_seconds\{map="counter_by_uid"\} \d{10}/);
    if (skipPromtool) return;
    const r = promtool(t);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it("bee: bee's names, which promtool rejects exactly as it rejects bee's", async () => {
    const t = await feed(new BeeMetrics(watches('bee_prefix.bpfel.o')));
    expect(t).toContain('ebpf_solo_io_counter_by_uid{uid="0"} 5');
    expect(t).toContain('ebpf_solo_io_hist_latency_bucket{le="20",comm="x",pid="1"} 1');
    if (skipPromtool) return;
    const r = promtool(t);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('ebpf_solo_io_counter_by_uid counter metrics should have "_total" suffix');
    expect(r.out).toMatch(/ebpf_solo_io_counter_by_uid metric names should not contain the metric type|metric name should not include type 'counter'/);
  });

  it('a bee-compatible probe with legacy sections (suffix roles) also passes promtool in the prometheus scheme', async () => {
    const m = new BeeMetrics(watches('bee_suffix.bpfel.o'), { naming: 'prometheus' });
    m.onSnapshot('sockets_counter', [{ key: { saddr: '10.0.0.1', daddr: '10.0.0.2' }, value: '3' }]);
    m.onSnapshot('open_gauge', [{ key: { saddr: '10.0.0.1', daddr: '10.0.0.2' }, value: '2' }]);
    const t = await m.text();
    expect(t).toContain('ebpf_sockets_total{');
    expect(t).toContain('ebpf_open{');
    if (!skipPromtool) expect(promtool(t)).toEqual({ status: 0, out: '' });
  });

  it("gauges a library named ..._total lose the suffix under the prometheus scheme only", async () => {
    for (const naming of ['bee', 'prometheus'] as const) {
      const m = new BeeMetrics([], { naming, processMetrics: false });
      new client.Gauge({ name: 'nodejs_active_handles_total', help: 'handles', registers: [m.registry] }).set(3);
      new client.Counter({ name: 'other_things_total', help: 'things', registers: [m.registry] }).inc(2);
      const t = await m.text();
      const g = naming === 'bee' ? 'nodejs_active_handles_total' : 'nodejs_active_handles';
      expect(t).toContain(`# HELP ${g} handles\n# TYPE ${g} gauge\n${g} 3`);
      expect(t).toContain('other_things_total 2');
    }
  });
});

describe('/healthz and /readyz', () => {
  it('healthz answers while serving; readyz only once ready, and not when a polled map goes unread', async () => {
    const m = new BeeMetrics(watches('bee_prefix.bpfel.o'), { pollIntervalMs: 200 });
    await m.listen(0, '127.0.0.1');
    try {
      const get = async (p: string) => {
        const r = await fetch(`http://${m.address}${p}`);
        return `${r.status} ${(await r.text()).trim()}`;
      };
      expect(await get('/healthz')).toBe('200 ok');
      expect(await get('/readyz')).toBe('503 not ready: the probe is not attached and running');
      m.ready = true;
      m.onSnapshot('counter_by_uid', []);
      expect(await get('/readyz')).toBe('200 ready');
      expect(m.notReady(Date.now() + 10_000)).toMatch(/^map 'counter_by_uid' was last read 1\d\.\ds ago$/);
      expect(await get('/metrics?x=1')).toMatch(/^200 # HELP/);
      expect(await get('/nope')).toMatch(/^404 /);
      m.ready = false;
      expect(await get('/readyz')).toMatch(/^503 /);
    } finally {
      await m.close();
    }
  });
});
