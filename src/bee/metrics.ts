// Prometheus series for watched maps (shared notes §7), through prom-client:
//   ebpf_solo_io_<map>, labels = record fields (events) or key fields (polled maps);
//   counter_ events: +1 per record; counter_ hash: mirrors the kernel's value (a decrease is a
//   reset: the series restarts); gauge_ hash: the value; gauge_/hist_ events: set/observe a field;
//   series of entries that disappear from the kernel map are removed.
// Names by naming.ts (bee's, or Prometheus' conventions). Next to them bee-ts's own: build info,
// programs attached, last poll time per polled map. /healthz answers while the process serves;
// /readyz once the probe is attached and running (503 before, while stopping, or when a polled
// map has not been read for three poll intervals).
// Bounded: each metric holds at most maxSeries label sets. Event-fed metrics evict their least
// recently updated series (counted); a polled map's entries past the bound are left out (shown).
// Also: drop counts (stats.ts SELF_METRICS) and prom-client's process metrics. close() cuts
// connections that do not finish within CLOSE_GRACE_MS.
import { BeeTsError } from '../errors.js';
import http from 'node:http';
import type { Socket } from 'node:net';
import client from 'prom-client';
import { type MetricNaming, type MetricsNaming, nameLabel, nameMetric } from './naming.js';
import { DROP_REASONS, type RunStats, SELF_METRICS } from './stats.js';
import type { WatchedMap } from './watch.js';

/** Metrics that cannot be served as asked (a series limit below 1, a port in use). */
export class MetricsError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('METRICS', message, options);
  }
}

/** Default --max-series: series per metric. */
export const DEFAULT_MAX_SERIES = 10_000;
/** How long close() waits for requests in flight before it drops their connections. */
const CLOSE_GRACE_MS = 500;

export interface MetricsOptions {
  /** Metric and label names: bee's (default) or Prometheus' conventions. */
  naming?: MetricsNaming;
  /** bee_ts_build_info labels. */
  build?: { version: string; probe: string; probeDigest: string };
  /** Programs attached (bee_ts_programs_attached). */
  attached?: number;
  /** The poll interval: /readyz fails when a polled map went unread for three of them. */
  pollIntervalMs?: number;
  /** Series per metric (default DEFAULT_MAX_SERIES). */
  maxSeries?: number;
  /** Drop counts to export as bee-ts's own metrics. */
  stats?: RunStats;
  /** Also export prom-client's process metrics (CPU, RSS, heap, event loop lag). Default true. */
  processMetrics?: boolean;
}

type Labels = Record<string, string>;

interface Series {
  w: WatchedMap;
  counter?: client.Counter<string>;
  gauge?: client.Gauge<string>;
  hist?: client.Histogram<string>;
  /** counter_ hash: last kernel value per label set. */
  last: Map<string, { labels: Labels; value: number }>;
  nm: MetricNaming;
  /** Event-fed series, least recently updated first. */
  live: Map<string, Labels>;
  evicted: number;
  refused: number;
}

function toNumber(s: string): number {
  const n = Number(s);
  return Number.isFinite(n) ? n : NaN;
}

export class BeeMetrics {
  readonly registry = new client.Registry();
  private readonly series = new Map<string, Series>();
  private server?: http.Server;
  readonly naming: MetricsNaming;
  /** Set by the runner: attached and producing (false until then, and while stopping). */
  ready = false;
  private readonly lastPoll = new Map<string, number>();
  private readonly pollIntervalMs: number;
  private readonly lastPollGauge: client.Gauge<string>;
  private readonly sockets = new Set<Socket>();
  readonly maxSeries: number;

  constructor(watches: WatchedMap[], opts: MetricsOptions = {}) {
    this.maxSeries = opts.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!Number.isInteger(this.maxSeries) || this.maxSeries < 1) throw new MetricsError(`max series must be a positive integer, not ${this.maxSeries}`);
    this.naming = opts.naming ?? 'bee';
    this.pollIntervalMs = opts.pollIntervalMs ?? 1000;
    for (const w of watches) {
      if (w.role === 'print') continue;
      if (w.role === 'hist' && w.kind === 'poll') continue; // bee: no metric for hist_ on a hash
      const labelNames = w.labels.map((l) => nameLabel(l, this.naming));
      const nm = nameMetric(w.name, w.role, this.naming);
      const name = nm.name;
      const help = `bee-ts: ${w.role} from ${w.kind === 'events' ? 'records of' : 'entries of'} map '${w.name}'${nm.conversion ? ` (${nm.conversion})` : ''}`;
      const s: Series = { w, last: new Map(), nm, live: new Map(), evicted: 0, refused: 0 };
      if (w.role === 'counter') s.counter = new client.Counter({ name, help, labelNames, registers: [this.registry] });
      else if (w.role === 'gauge') s.gauge = new client.Gauge({ name, help, labelNames, registers: [this.registry] });
      else if (w.role === 'hist') s.hist = new client.Histogram({ name, help, labelNames, buckets: w.buckets?.map(nm.convert), registers: [this.registry] });
      this.series.set(w.name, s);
    }
    const registers = [this.registry];
    if (opts.build)
      new client.Gauge({ ...SELF_METRICS.buildInfo, labelNames: ['version', 'node_version', 'probe', 'probe_digest'], registers }).set(
        { version: opts.build.version, node_version: process.version, probe: opts.build.probe, probe_digest: opts.build.probeDigest },
        1,
      );
    if (opts.attached !== undefined) new client.Gauge({ ...SELF_METRICS.programsAttached, registers }).set(opts.attached);
    this.lastPollGauge = new client.Gauge({ ...SELF_METRICS.lastPoll, labelNames: ['map'], registers });
    this.registerSelfMetrics(opts.stats);
    if (opts.processMetrics !== false) client.collectDefaultMetrics({ register: this.registry });
  }

  private registerSelfMetrics(stats?: RunStats): void {
    const registers = [this.registry];
    const series = this.series;
    new client.Counter({
      ...SELF_METRICS.seriesEvicted,
      labelNames: ['metric'],
      registers,
      collect() {
        this.reset();
        for (const s of series.values()) if (s.w.kind === 'events') this.inc({ metric: s.nm.name }, s.evicted);
      },
    });
    new client.Gauge({
      ...SELF_METRICS.seriesRefused,
      labelNames: ['metric'],
      registers,
      collect() {
        for (const s of series.values()) if (s.w.kind === 'poll') this.set({ metric: s.nm.name }, s.refused);
      },
    });
    if (!stats) return;
    new client.Counter({
      ...SELF_METRICS.records,
      labelNames: ['map'],
      registers,
      collect() {
        this.reset();
        stats.refresh();
        for (const [map, s] of stats.maps) this.inc({ map }, s.records);
      },
    });
    new client.Counter({
      ...SELF_METRICS.dropped,
      labelNames: ['map', 'reason'],
      registers,
      collect() {
        this.reset();
        stats.refresh();
        for (const [map, s] of stats.maps) for (const reason of DROP_REASONS) this.inc({ map, reason }, s.dropped[reason]);
      },
    });
    new client.Counter({
      ...SELF_METRICS.ringFullSightings,
      labelNames: ['map'],
      registers,
      collect() {
        this.reset();
        stats.refresh();
        for (const [map, s] of stats.maps) this.inc({ map }, s.ringFullSightings);
      },
    });
    new client.Gauge({
      ...SELF_METRICS.queueBytes,
      registers,
      collect() {
        this.set(stats.queueBytes);
      },
    });
  }

  /** Note an event-fed series as just updated; evicts the least recently updated one when full. */
  private touch(s: Series, labels: Labels): void {
    let id = '';
    for (const k in labels) id += `${labels[k]}\u0000`;
    if (s.live.delete(id)) {
      s.live.set(id, labels);
      return;
    }
    if (s.live.size >= this.maxSeries) {
      const [oldId, old] = s.live.entries().next().value as [string, Labels];
      s.live.delete(oldId);
      s.counter?.remove(old);
      s.gauge?.remove(old);
      s.hist?.remove(old);
      s.evicted++;
    }
    s.live.set(id, labels);
  }

  private labelsOf(labels: Labels): Labels {
    const o: Labels = {};
    for (const [k, v] of Object.entries(labels)) o[nameLabel(k, this.naming)] = v;
    return o;
  }

  /** One ring buffer record (labels = all fields, flattened). */
  /** Series held now, per metric name (for the heap guard's message). */
  seriesCounts(): Map<string, number> {
    const n = new Map<string, number>();
    for (const s of this.series.values()) n.set(s.nm.name, s.w.kind === 'events' ? s.live.size : s.last.size);
    return n;
  }

  /** Whether events of `map` feed a series (else onEvent ignores them and needs no labels). */
  wantsEvents(map: string): boolean {
    return this.series.has(map);
  }

  onEvent(map: string, labels: Labels): void {
    const s = this.series.get(map);
    if (!s) return;
    const w = s.w;
    if (s.counter) {
      const l = this.labelsOf(labels);
      this.touch(s, l);
      s.counter.inc(l);
    } else if (s.gauge || s.hist) {
      const { [w.valueField!]: raw, ...rest } = labels;
      const v = s.nm.convert(toNumber(raw ?? ''));
      if (Number.isNaN(v)) return;
      const l = this.labelsOf(rest);
      this.touch(s, l);
      if (s.gauge) s.gauge.set(l, v);
      else s.hist!.observe(l, v);
    }
  }

  /** A full snapshot of a polled map: entries that vanished lose their series. */
  onSnapshot(map: string, entries: { key: Labels; value: string }[]): void {
    const now = Date.now();
    this.lastPoll.set(map, now);
    this.lastPollGauge.set({ map }, now / 1000);
    const s = this.series.get(map);
    if (!s) return;
    const seen = new Set<string>();
    s.refused = Math.max(0, entries.length - this.maxSeries);
    for (const e of s.refused ? entries.slice(0, this.maxSeries) : entries) {
      const labels = this.labelsOf(e.key);
      const id = JSON.stringify(labels);
      seen.add(id);
      const v = s.nm.convert(toNumber(e.value));
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
    // A client that never finishes its request is cut off (Node's defaults wait 60 s / 5 min).
    this.server = http.createServer({ headersTimeout: 10_000, requestTimeout: 15_000 }, async (req, res) => {
      const url = req.url?.replace(/\?.*$/, '');
      if (url === '/metrics') {
        res.setHeader('Content-Type', this.registry.contentType);
        res.end(await this.text());
      } else if (url === '/healthz') {
        res.end('ok\n');
      } else if (url === '/readyz') {
        const why = this.notReady();
        res.statusCode = why ? 503 : 200;
        res.end(why ? `not ready: ${why}\n` : 'ready\n');
      } else {
        res.statusCode = 404;
        res.end('bee-ts: metrics are at /metrics (health: /healthz, /readyz)\n');
      }
    });
    // Tracked so close() can end connections that would otherwise hold it open.
    this.server.on('connection', (sock: Socket) => {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new MetricsError(e.code === 'EADDRINUSE' ? `cannot serve metrics on ${host}:${port}: the port is in use (choose another with --prom-port)` : `cannot serve metrics on ${host}:${port}: ${e.message}`, { cause: e })),
      );
      this.server!.listen(port, host, () => resolve());
    });
  }

  /** Why /readyz fails, or undefined when ready. */
  notReady(now = Date.now()): string | undefined {
    if (!this.ready) return 'the probe is not attached and running';
    const limit = Math.max(3 * this.pollIntervalMs, 5000);
    for (const [map, t] of this.lastPoll) if (now - t > limit) return `map '${map}' was last read ${((now - t) / 1000).toFixed(1)}s ago`;
    return undefined;
  }

  /**
   * The exposition text. With Prometheus naming, gauges named `..._total` by libraries (Node's
   * nodejs_active_handles_total) lose the suffix, which Prometheus keeps for counters; when the
   * shorter name is taken already (prom-client's process metrics have both nodejs_active_handles
   * by type and its _total sum), the _total gauge is left out.
   */
  async text(): Promise<string> {
    const body = await this.registry.metrics();
    if (this.naming !== 'prometheus') return body;
    const gauges = new Set<string>();
    for (const m of body.matchAll(/^# TYPE (\S+_total) (gauge|untyped)$/gm)) gauges.add(m[1]!);
    if (!gauges.size) return body;
    const families = new Set<string>();
    for (const m of body.matchAll(/^# TYPE (\S+) /gm)) families.add(m[1]!);
    const drop = new Set([...gauges].filter((g) => families.has(g.slice(0, -'_total'.length))));
    const lineName = (l: string) => /^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(l)?.[1];
    return body
      .split('\n')
      .filter((l) => !drop.has(lineName(l) ?? ''))
      .join('\n')
      .replace(/^(# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*_total)(?=[ {])/gm, (all, pre: string | undefined, name: string) => (gauges.has(name) ? `${pre ?? ''}${name.slice(0, -'_total'.length)}` : all));
  }

  get address(): string | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? `${a.address}:${a.port}` : undefined;
  }

  /**
   * Stop serving. Requests in flight get CLOSE_GRACE_MS to finish; then every connection is
   * destroyed (a half-sent request or a stalled reader never keeps the process alive).
   */
  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      const t = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
        server.closeAllConnections();
      }, CLOSE_GRACE_MS);
      t.unref();
      server.once('close', () => clearTimeout(t));
    });
  }
}
