// Prometheus series for watched maps (shared notes §7), through prom-client:
//   ebpf_solo_io_<map>, labels = record fields (events) or key fields (polled maps);
//   counter_ events: +1 per record; counter_ hash: mirrors the kernel's value (a decrease is a
//   reset: the series restarts); gauge_ hash: the value; gauge_/hist_ events: set/observe a field;
//   series of entries that disappear from the kernel map are removed.
import http from 'node:http';
import client from 'prom-client';
import type { WatchedMap } from './watch.js';

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_:]/g, '_');
export const metricName = (map: string) => `ebpf_solo_io_${sanitize(map)}`;

type Labels = Record<string, string>;

interface Series {
  w: WatchedMap;
  counter?: client.Counter<string>;
  gauge?: client.Gauge<string>;
  hist?: client.Histogram<string>;
  /** counter_ hash: last kernel value per label set. */
  last: Map<string, { labels: Labels; value: number }>;
}

function toNumber(s: string): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : NaN;
}

export class BeeMetrics {
  readonly registry = new client.Registry();
  private readonly series = new Map<string, Series>();
  private server?: http.Server;

  constructor(watches: WatchedMap[]) {
    for (const w of watches) {
      if (w.role === 'print') continue;
      if (w.role === 'hist' && w.kind === 'poll') continue; // bee: no metric for hist_ on a hash
      const labelNames = w.labels.map(sanitize);
      const name = metricName(w.name);
      const help = `bee-ts: ${w.role} from ${w.kind === 'events' ? 'records of' : 'entries of'} map '${w.name}'`;
      const s: Series = { w, last: new Map() };
      if (w.role === 'counter') s.counter = new client.Counter({ name, help, labelNames, registers: [this.registry] });
      else if (w.role === 'gauge') s.gauge = new client.Gauge({ name, help, labelNames, registers: [this.registry] });
      else if (w.role === 'hist') s.hist = new client.Histogram({ name, help, labelNames, buckets: w.buckets, registers: [this.registry] });
      this.series.set(w.name, s);
    }
  }

  private labelsOf(labels: Labels): Labels {
    const o: Labels = {};
    for (const [k, v] of Object.entries(labels)) o[sanitize(k)] = v;
    return o;
  }

  /** One ring buffer record (labels = all fields, flattened). */
  onEvent(map: string, labels: Labels): void {
    const s = this.series.get(map);
    if (!s) return;
    const w = s.w;
    if (s.counter) s.counter.inc(this.labelsOf(labels));
    else if (s.gauge || s.hist) {
      const { [w.valueField!]: raw, ...rest } = labels;
      const v = toNumber(raw ?? '');
      if (Number.isNaN(v)) return;
      if (s.gauge) s.gauge.set(this.labelsOf(rest), v);
      else s.hist!.observe(this.labelsOf(rest), v);
    }
  }

  /** A full snapshot of a polled map: entries that vanished lose their series. */
  onSnapshot(map: string, entries: { key: Labels; value: string }[]): void {
    const s = this.series.get(map);
    if (!s) return;
    const seen = new Set<string>();
    for (const e of entries) {
      const labels = this.labelsOf(e.key);
      const id = JSON.stringify(labels);
      seen.add(id);
      const v = toNumber(e.value);
      if (Number.isNaN(v)) continue;
      if (s.gauge) {
        s.gauge.set(labels, v);
        s.last.set(id, { labels, value: v });
      } else if (s.counter) {
        const prev = s.last.get(id);
        if (prev === undefined) s.counter.inc(labels, v);
        else if (v >= prev.value) {
          if (v > prev.value) s.counter.inc(labels, v - prev.value);
        } else {
          // The kernel value went down (entry recreated or decremented): a counter reset.
          s.counter.remove(labels);
          s.counter.inc(labels, v);
        }
        s.last.set(id, { labels, value: v });
      }
    }
    // Entries gone from the kernel map lose their series.
    for (const [id, prev] of s.last) {
      if (seen.has(id)) continue;
      s.counter?.remove(prev.labels);
      s.gauge?.remove(prev.labels);
      s.last.delete(id);
    }
  }

  /** Serve /metrics; rejects (loudly) when the address is taken. */
  listen(port: number, host: string): Promise<void> {
    this.server = http.createServer(async (req, res) => {
      if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
        res.setHeader('Content-Type', this.registry.contentType);
        res.end(await this.registry.metrics());
      } else {
        res.statusCode = 404;
        res.end('bee-ts: metrics are at /metrics\n');
      }
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `cannot serve metrics on ${host}:${port}: the port is in use (choose another with --prom-port)` : `cannot serve metrics on ${host}:${port}: ${e.message}`)),
      );
      this.server!.listen(port, host, () => resolve());
    });
  }

  get address(): string | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? `${a.address}:${a.port}` : undefined;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
