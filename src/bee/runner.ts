// `bee-ts run`: load a probe, attach every program by its section, and turn its marked maps into
// output — JSON lines (headless) or a TUI, plus Prometheus metrics — until SIGINT/SIGTERM.
import fs from 'node:fs';
import path from 'node:path';
import type { Link } from '../link/link.js';
import { canAutoAttach } from '../link/attach.js';
import { BpfObject } from '../loader/object.js';
import { CodecError } from '../maps/codec.js';
import { MapType } from '../syscall/constants.js';
import { PerfBufReader } from '../ringbuf/perfbuf.js';
import { RingBufReader } from '../ringbuf/ringbuf.js';
import { type BeeValue, flattenLabels, sortKeys } from './format.js';
import { type Filter, parseFilters, passes } from './filter.js';
import { sha256 } from './image.js';
import { BeeMetrics } from './metrics.js';
import type { MetricsNaming } from './naming.js';
import { planWatches, type WatchedMap } from './watch.js';

export interface RunOptions {
  /** The object's bytes (an image from the store); the runner's `file` is then its reference. */
  program?: Uint8Array;
  filters: string[];
  histBuckets: Map<string, number[]>;
  histValueKeys: Map<string, string>;
  pollIntervalMs: number;
  promPort: number;
  promAddress: string;
  noMetrics?: boolean;
  filterMetrics?: boolean;
  pinMaps?: string;
  pinProgs?: string;
  sets: [string, unknown][];
  verbose?: boolean;
  /** Stop after this many ms (tests, scripts). */
  durationMs?: number;
  btfPath?: string;
  /** Metric names: bee's (default) or Prometheus' conventions. */
  metricsNaming?: MetricsNaming;
  /** bee-ts's version, for bee_ts_build_info. */
  version?: string;
}

export interface PollEntry {
  key: BeeValue;
  keyLabels: Record<string, string>;
  value: BeeValue;
}

/** Where output goes: JSON lines or the TUI. */
export interface Sink {
  start(watches: WatchedMap[], info: { file: string; metrics?: string }): void;
  event(map: string, entry: BeeValue, labels: Record<string, string>): void;
  snapshot(map: string, entries: PollEntry[]): void;
  info(message: string): void;
  error(message: string): void;
  stop(): void;
}

/** Headless output: one JSON object per line on stdout, diagnostics on stderr. */
export class JsonLinesSink implements Sink {
  private pending: string[] = [];
  private scheduled = false;
  private last = new Map<string, string>();
  constructor(private readonly out: (s: string) => void = (s) => void process.stdout.write(s)) {}
  start(): void {}
  private push(line: string): void {
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
  flush(): void {
    this.scheduled = false;
    if (this.pending.length) this.out(this.pending.join('\n') + '\n');
    this.pending = [];
  }
  event(map: string, entry: BeeValue): void {
    this.push(JSON.stringify({ entry: sortKeys(entry), mapName: map }));
  }
  snapshot(map: string, entries: PollEntry[]): void {
    const line = JSON.stringify({ entries: entries.map((e) => ({ key: sortKeys(e.key), value: e.value })), mapName: map });
    // Only when the snapshot changed and is not empty (bee v0.0.1's hash lines, without --debug).
    if (entries.length === 0 || this.last.get(map) === line) return;
    this.last.set(map, line);
    this.push(line);
  }
  info(m: string): void {
    process.stderr.write(`${m}\n`);
  }
  error(m: string): void {
    process.stderr.write(`Error: ${m}\n`);
  }
  stop(): void {
    this.flush();
  }
}

function sumOrFirst(values: BeeValue[]): BeeValue {
  if (values.every((v) => typeof v === 'string' && /^-?\d+$/.test(v))) return values.reduce((a, v) => a + BigInt(v as string), 0n).toString();
  return values;
}

export class BeeRunner {
  private obj?: BpfObject;
  private links: Link[] = [];
  private readers: (RingBufReader | PerfBufReader)[] = [];
  private metrics?: BeeMetrics;
  private pollTimer?: NodeJS.Timeout;
  private filters: Filter[] = [];
  watches: WatchedMap[] = [];
  badRecords = 0;
  private stopped = false;
  private done?: () => void;

  constructor(
    readonly file: string,
    readonly opts: RunOptions,
    readonly sink: Sink,
  ) {}

  /** Load, attach and start producing output; resolves when stopped. */
  async run(): Promise<void> {
    const o = this.opts;
    const openOpts = {
      pinMaps: o.pinMaps,
      verbose: o.verbose,
      btfPath: o.btfPath,
      onWarning: (w: string) => this.sink.info(`warning: ${w}`),
    };
    // An image from the store arrives as bytes, named by its reference.
    const obj = o.program ? BpfObject.fromBytes(o.program, { ...openOpts, file: this.file }) : BpfObject.open(this.file, openOpts);
    // Validate everything we can before touching the kernel.
    this.watches = planWatches(obj.spec, { histBuckets: o.histBuckets, histValueKeys: o.histValueKeys });
    this.filters = parseFilters(o.filters, this.watches);
    for (const [name, v] of o.sets)
      try {
        obj.setConstant(name, v);
      } catch (e) {
        if (e instanceof CodecError) throw new CodecError(`--set ${name}=${String(v)}: ${e.message}`);
        throw e;
      }
    if (o.pinMaps) fs.mkdirSync(o.pinMaps, { recursive: true, mode: 0o700 });
    this.obj = obj;
    try {
      obj.load();
      if (o.pinProgs) this.pinPrograms(o.pinProgs);
      for (const p of obj.programs.values()) {
        if (!canAutoAttach(p)) {
          this.sink.info(`warning: program '${p.name}' (${p.section}) has no automatic attach point; loaded but not attached`);
          continue;
        }
        this.links.push(p.attach());
      }
      if (!o.noMetrics) {
        this.metrics = new BeeMetrics(this.watches, {
          naming: o.metricsNaming,
          attached: this.links.length,
          pollIntervalMs: o.pollIntervalMs,
          build: { version: o.version ?? 'unknown', probe: o.program ? this.file : path.basename(this.file), probeDigest: sha256(o.program ?? fs.readFileSync(this.file)) },
        });
        await this.metrics.listen(o.promPort, o.promAddress);
      }
      this.startReaders();
      if (this.metrics) this.metrics.ready = true;
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.sink.start(this.watches, { file: this.file, metrics: this.metrics?.address });
    this.sink.info(`bee-ts: running ${o.program ? this.file : path.basename(this.file)}: ${this.links.length} program${this.links.length === 1 ? '' : 's'} attached, watching ${this.watches.map((w) => `${w.name} (${w.role})`).join(', ') || 'no maps'}${this.metrics ? `; metrics on http://${this.metrics.address}/metrics` : ''}`);
    this.schedulePoll(0);
    if (o.durationMs !== undefined) setTimeout(() => void this.stop(), o.durationMs).unref();
    await new Promise<void>((r) => (this.done = r));
  }

  private pinPrograms(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const p of this.obj!.programs.values()) {
      const target = path.join(dir, p.name);
      // A rerun replaces our earlier pins instead of failing on them.
      if (fs.existsSync(target)) fs.rmSync(target);
      p.pin(target);
      this.sink.info(`Successfully pinned program '${target}'`);
    }
  }

  private handleEvent(w: WatchedMap, view: DataView, off: number, len: number): void {
    if (len < w.spec.valueSize && w.spec.type !== MapType.RINGBUF) return;
    let entry: BeeValue;
    try {
      entry = w.recordFmt!(view, off);
    } catch {
      this.badRecords++;
      return;
    }
    const labels = flattenLabels(entry);
    const ok = passes(this.filters, w.name, labels);
    if (this.metrics && (ok || !this.opts.filterMetrics)) this.metrics.onEvent(w.name, labels);
    if (ok) this.sink.event(w.name, entry, labels);
  }

  private startReaders(): void {
    const btf = this.obj!.spec.btf!;
    for (const w of this.watches) {
      if (w.kind !== 'events') continue;
      const map = this.obj!.map(w.name);
      const size = btf.sizeof(w.spec.valueTypeId!);
      if (w.spec.type === MapType.RINGBUF) {
        const r = new RingBufReader(map, { btf, valueTypeId: w.spec.valueTypeId });
        r.onRaw((view, off, len) => {
          // A record shorter than the struct cannot be decoded: count it and go on.
          if (len < size) {
            this.badRecords++;
            return;
          }
          this.handleEvent(w, view, off, len);
        });
        this.readers.push(r);
      } else {
        const r = new PerfBufReader(map, { valueTypeId: w.spec.valueTypeId });
        r.onRaw((view, off, len) => {
          if (len < size) {
            this.badRecords++;
            return;
          }
          this.handleEvent(w, view, off, len);
        });
        this.readers.push(r);
      }
    }
  }

  private schedulePoll(delay: number): void {
    if (this.stopped || !this.watches.some((w) => w.kind === 'poll')) return;
    this.pollTimer = setTimeout(() => {
      try {
        this.pollOnce();
      } catch (e) {
        this.sink.error((e as Error).message);
      }
      this.schedulePoll(this.opts.pollIntervalMs);
    }, delay);
  }

  /** Walk every polled map once (batch lookups where the kernel has them). */
  pollOnce(): void {
    for (const w of this.watches) {
      if (w.kind !== 'poll') continue;
      const map = this.obj!.map(w.name);
      const entries: PollEntry[] = [];
      const metricEntries: { key: Record<string, string>; value: string }[] = [];
      for (const [k, v] of map.dumpRaw()) {
        const kdv = new DataView(k.buffer, k.byteOffset, k.byteLength);
        const keyVal = w.keyFmt!(kdv, 0);
        const key: BeeValue = w.scalarKey ? { key: keyVal as string } : keyVal;
        let value: BeeValue;
        if (map.percpu) {
          const stride = Math.ceil(w.spec.valueSize / 8) * 8;
          const per: BeeValue[] = [];
          for (let c = 0; c < map.ncpu; c++) per.push(w.valueFmt!(new DataView(v.buffer, v.byteOffset + c * stride, w.spec.valueSize), 0));
          value = sumOrFirst(per);
        } else value = w.valueFmt!(new DataView(v.buffer, v.byteOffset, v.byteLength), 0);
        const keyLabels = flattenLabels(key);
        const ok = passes(this.filters, w.name, keyLabels);
        if (typeof value === 'string' && (ok || !this.opts.filterMetrics)) metricEntries.push({ key: keyLabels, value });
        if (ok) entries.push({ key, keyLabels, value });
      }
      this.metrics?.onSnapshot(w.name, metricEntries);
      this.sink.snapshot(w.name, entries);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.metrics) this.metrics.ready = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const r of this.readers) r.close();
    this.readers = [];
    for (const l of this.links) l.close();
    this.links = [];
    this.obj?.close();
    await this.metrics?.close();
    this.sink.stop();
    this.done?.();
  }
}
