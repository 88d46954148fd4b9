// `bee-ts run`: load a probe, attach every program by its section, and turn its marked maps into
// output — JSON lines (headless) or a TUI, plus Prometheus metrics — until stopped (a signal,
// --duration, a closed stdout). Memory is bounded end to end: JSON lines wait in a bounded queue
// that respects stdout's backpressure, and what is dropped anywhere is counted (stats.ts).
//
// One file on purpose (~520 lines): the run's lifecycle (load, attach, readers, polls, sinks,
// stop) is one state machine, and its pieces already live beside it (watch, format, filter,
// metrics, stats, heap, tui).
import fs from 'node:fs';
import path from 'node:path';
import type { Link } from '../link/link.js';
import { canAutoAttach } from '../link/attach.js';
import { BpfObject } from '../loader/object.js';
import { CodecError } from '../maps/codec.js';
import { MapType } from '../syscall/constants.js';
import { PerfBufReader } from '../ringbuf/perfbuf.js';
import type { RecordReader } from '../ringbuf/reader.js';
import { RingBufReader } from '../ringbuf/ringbuf.js';
import { type BeeValue, flattenLabels, sortKeys } from './format.js';
import { compileJsonLine, type JsonLineWriter } from './jsonline.js';
import { type Filter, parseFilters, passes } from './filter.js';
import { sha256 } from './image.js';
import { HeapGuard, type HeapLimitError } from './heap.js';
import { BeeMetrics } from './metrics.js';
import type { MetricsNaming } from './naming.js';
import { lockPinDir, PinError, pinDir, programPinPath } from './pins.js';
import { RunStats } from './stats.js';
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
  /** Series per metric (--max-series). */
  maxSeries?: number;
  /** How often drops are reported on stderr (when there were any); default 10 s. */
  statsIntervalMs?: number;
}

/** Longest delay setTimeout takes (larger ones fire at once): longer waits are chained. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** setTimeout for any delay: waits past MAX_TIMER_MS are chained. Returns a cancel function. */
export function longTimeout(fn: () => void, ms: number, unref = true): () => void {
  let t: NodeJS.Timeout;
  const arm = (left: number) => {
    t = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : fn()), Math.min(left, MAX_TIMER_MS));
    if (unref) t.unref();
  };
  arm(ms);
  return () => clearTimeout(t);
}

export interface PollEntry {
  key: BeeValue;
  keyLabels: Record<string, string>;
  value: BeeValue;
}

/** Where output goes: JSON lines or the TUI. */
export interface Sink {
  start(watches: WatchedMap[], info: { file: string; metrics?: string }): void;
  /** false: the sink ignores `labels`, so the runner may pass {} when no filter or metric needs them. */
  readonly wantsLabels?: boolean;
  event(map: string, entry: BeeValue, labels: Record<string, string>): void;
  /**
   * Sinks that print JSON lines: a function writing one record of `map` as its line, by the map's
   * compiled writer (it throws when the record cannot be formatted).
   */
  eventWriter?(map: string, w: JsonLineWriter): (view: DataView, off: number) => void;
  snapshot(map: string, entries: PollEntry[]): void;
  info(message: string): void;
  error(message: string): void;
  stop(): void;
  /** Where to count what the sink drops (the runner's stats). */
  useStats?(stats: RunStats): void;
  /** A drop report (`final`: the run's total); without this method it goes to stderr. */
  statsLine?(line: string, final: boolean): void;
}

/** Where JSON lines go: process.stdout, or anything with its write/'drain' contract. */
export interface LineOutput {
  write(chunk: string | Uint8Array): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface JsonLinesOptions {
  /** Bytes of lines held while stdout is not taking them; lines past it are dropped and counted. */
  maxQueueBytes?: number;
  stats?: RunStats;
}

/** Default bound of the JSON lines queue. */
export const DEFAULT_QUEUE_BYTES = 8 << 20;
/**
 * Written without waiting for the end of the drain once this much is batched: a drain of
 * DRAIN_RECORDS records of a few hundred bytes is one write.
 */
const FLUSH_BYTES = 1 << 20;

/**
 * Headless output: one JSON object per line on stdout, diagnostics on stderr. Lines are written
 * into one reused batch buffer (by the map's compiled writer: no string per event) and handed to
 * stdout once per drain (a copy, so the batch is reused at once). While stdout reports
 * backpressure (write() returned false, no 'drain' yet) batches wait, at most maxQueueBytes in
 * all (the batch included); a line that does not fit is dropped and counted.
 */
export class JsonLinesSink implements Sink {
  readonly wantsLabels = false;
  private buf = Buffer.allocUnsafe(64 << 10);
  private pos = 0;
  /** Batches written while stdout was blocked, waiting for 'drain'. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private blocked = false;
  private scheduled = false;
  private last = new Map<string, string>();
  private readonly out: LineOutput;
  /** out is process.stdout: batches are handed over without a copy (flushBatch). */
  private readonly direct: boolean;
  private readonly max: number;
  private stats?: RunStats;
  private readonly flushSoon = () => {
    this.scheduled = false;
    this.flush();
  };
  /** Lines dropped because the queue was full. */
  dropped = 0;
  constructor(out: LineOutput | ((s: string) => void) = process.stdout, opts: JsonLinesOptions = {}) {
    this.out = typeof out === 'function' ? { write: (c) => (out(typeof c === 'string' ? c : Buffer.from(c).toString('utf8')), true), once: () => undefined } : out;
    this.direct = out === process.stdout;
    this.max = opts.maxQueueBytes ?? DEFAULT_QUEUE_BYTES;
    this.stats = opts.stats;
  }
  start(): void {}
  useStats(stats: RunStats): void {
    this.stats = stats;
  }
  /** Make room for `n` more bytes in the batch (writing it out first when it is full). */
  private room(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    this.flushBatch();
    if (this.buf.length - this.pos < n) {
      const b = Buffer.allocUnsafe(Math.max(2 * this.buf.length, n + this.pos, 64 << 10));
      this.buf.copy(b, 0, 0, this.pos);
      this.buf = b;
    }
  }
  private drop(map: string): void {
    this.dropped++;
    this.stats?.drop(map, 'output_queue');
  }
  /** The line now at [pos, end) is kept if the queue has room for it; false when it was dropped. */
  private commit(map: string, end: number): boolean {
    if (this.heldBytes + end > this.max) {
      this.drop(map);
      return false;
    }
    this.pos = end;
    if (end >= FLUSH_BYTES) this.flushBatch();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
    return true;
  }
  /** Queue one line of text; false when it was dropped (the queue is full). */
  private push(map: string, line: string): boolean {
    const n = Buffer.byteLength(line) + 1;
    this.room(n);
    const at = this.pos + this.buf.write(line, this.pos, 'utf8');
    this.buf[at] = 10;
    return this.commit(map, at + 1);
  }
  /**
   * A function writing one record of `map` as its JSON line, by the map's compiled writer, into
   * the batch. It throws what the writer throws (the line is then not written).
   */
  eventWriter(map: string, w: JsonLineWriter): (view: DataView, off: number) => void {
    if (!Number.isFinite(w.max)) return (view, off) => void this.push(map, w.text(view, off).slice(0, -1));
    const max = w.max;
    const write = w.write;
    return (view, off) => {
      if (this.buf.length - this.pos < max) this.room(max);
      this.commit(map, write(view, off, this.buf, this.pos));
    };
  }
  /**
   * The batch goes out (or, while stdout is blocked, joins what waits for 'drain'). Written to
   * process.stdout, the batch itself is handed over: when the stream holds no bytes afterwards
   * (a file's stream writes at once; a pipe's socket did when the kernel took it all) the batch
   * is free again, else the stream keeps it and later lines go into a new buffer. Other outputs
   * (tests' collectors may keep what they get) are given a copy.
   */
  private flushBatch(): void {
    if (this.pos === 0) return;
    if (this.direct && !this.blocked) {
      const chunk = this.buf.subarray(0, this.pos);
      this.pos = 0;
      this.write(chunk);
      if (process.stdout.writableLength > 0) this.buf = Buffer.allocUnsafe(this.buf.length);
      return;
    }
    const chunk = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    if (this.blocked) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
    } else this.write(chunk);
    if (this.stats) this.stats.queueBytes = this.heldBytes;
  }
  private write(chunk: Buffer): void {
    if (!this.out.write(chunk)) {
      this.blocked = true;
      this.out.once('drain', () => {
        this.blocked = false;
        this.flush();
      });
    }
  }
  /** Write what is batched and held, unless stdout asked us to wait for 'drain'. */
  flush(): void {
    if (this.blocked) return;
    if (this.held.length) {
      if (this.pos) this.held.push(Buffer.from(this.buf.subarray(0, this.pos)));
      this.pos = 0;
      const chunk = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
      this.held = [];
      this.heldBytes = 0;
      if (this.stats) this.stats.queueBytes = 0;
      this.write(chunk);
      return;
    }
    this.flushBatch();
  }
  /** Bytes waiting (batched or held here, not yet handed to stdout). */
  get pendingBytes(): number {
    return this.heldBytes + this.pos;
  }
  event(map: string, entry: BeeValue): void {
    this.push(map, JSON.stringify({ entry: sortKeys(entry), mapName: map }));
  }
  snapshot(map: string, entries: PollEntry[]): void {
    const line = JSON.stringify({ entries: entries.map((e) => ({ key: sortKeys(e.key), value: e.value })), mapName: map });
    // Only when the snapshot changed (bee v0.0.1's hash lines, without --debug). An empty map
    // prints once it had entries (`"entries":[]`), so the last line never shows stale ones.
    const prev = this.last.get(map);
    if (prev === line || (entries.length === 0 && prev === undefined)) return;
    if (this.push(map, line)) this.last.set(map, line);
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

/** Most records one drain of a ring hands over before the event loop gets a turn. */
const DRAIN_RECORDS = 4096;

const NO_LABELS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Thrown inside run() when stop() came first: start-up ends quietly. */
class Stopped extends Error {}

export class BeeRunner {
  private obj?: BpfObject;
  private links: Link[] = [];
  private readers: RecordReader[] = [];
  private metrics?: BeeMetrics;
  private pollTimer?: NodeJS.Timeout;
  private statsTimer?: NodeJS.Timeout;
  private cancelDuration?: () => void;
  private filters: Filter[] = [];
  private lockFds: number[] = [];
  /** Stops the run before V8's heap limit aborts the process (and skips every cleanup). */
  private heapGuard?: HeapGuard;
  /** Why the run stopped, when it was not asked to: run() rejects with it. */
  private fatal?: HeapLimitError;
  watches: WatchedMap[] = [];
  /** Drops and record counts, per map. */
  readonly stats = new RunStats();
  private stopped = false;
  private stopping?: Promise<void>;
  private done!: () => void;
  private readonly finished = new Promise<void>((r) => (this.done = r));

  constructor(
    readonly file: string,
    readonly opts: RunOptions,
    readonly sink: Sink,
  ) {
    sink.useStats?.(this.stats);
  }

  /** Records that could not be decoded (too short, or the formatter failed). */
  get badRecords(): number {
    return this.stats.total('short_record') + this.stats.total('decode_error');
  }

  /** Give pending signals a turn between start-up steps; a stop() that came first ends start-up. */
  private async checkpoint(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    if (this.stopped) throw new Stopped();
  }

  /** Load, attach and start producing output; resolves when stopped. */
  async run(): Promise<void> {
    try {
      await this.start();
    } catch (e) {
      await this.stop();
      if (e instanceof Stopped) {
        if (this.fatal) throw this.fatal;
        return;
      }
      throw e;
    }
    await this.finished;
    if (this.fatal) throw this.fatal;
  }

  private async start(): Promise<void> {
    const o = this.opts;
    const openOpts = {
      pinMaps: o.pinMaps,
      verbose: o.verbose,
      btfPath: o.btfPath,
      onWarning: (w: string) => this.sink.info(`warning: ${w}`),
    };
    // From the first step on: compiling a formatter or planning a huge object can grow the heap too.
    this.heapGuard = new HeapGuard(
      (e) => {
        this.fatal = e;
        void this.stop();
      },
      () => this.heapDescription(),
    );
    this.heapGuard.start();
    await this.checkpoint();
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
    const wanted = o.sets.map(([name]) => [name, globalText(obj, name)] as const);
    // One run per pin directory: a second would consume the same pinned ring buffer.
    for (const [dir, flag] of [[o.pinMaps, '--pin-maps'], [o.pinProgs, '--pin-progs']] as const) {
      if (!dir || (flag === '--pin-progs' && dir === o.pinMaps)) continue;
      pinDir(dir, flag);
      this.lockFds.push(lockPinDir(dir, flag));
    }
    this.obj = obj;
    await this.checkpoint();
    obj.load();
    // A .rodata/.data reused from --pin-maps keeps the values of the run that created it.
    for (const [name, want] of wanted) {
      const got = globalText(obj, name);
      if (got !== want)
        throw new PinError(`--set ${name}=${want}: the global lives in a map reused from --pin-maps ${o.pinMaps}, which holds ${name}=${got}; remove that pin (or run without --pin-maps) to change it`);
    }
    if (o.pinProgs) this.pinPrograms(o.pinProgs);
    for (const p of obj.programs.values()) {
      await this.checkpoint();
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
        maxSeries: o.maxSeries,
        stats: this.stats,
      });
      await this.metrics.listen(o.promPort, o.promAddress);
    }
    await this.checkpoint();
    this.startReaders();
    if (this.metrics) this.metrics.ready = true;
    this.sink.start(this.watches, { file: this.file, metrics: this.metrics?.address });
    this.sink.info(`bee-ts: running ${o.program ? this.file : path.basename(this.file)}: ${this.links.length} program${this.links.length === 1 ? '' : 's'} attached, watching ${this.watches.map((w) => `${w.name} (${w.role})`).join(', ') || 'no maps'}${this.metrics ? `; metrics on http://${this.metrics.address}/metrics` : ''}`);
    this.schedulePoll(0);
    const every = o.statsIntervalMs ?? 10_000;
    // This timer is ref'd on purpose: it keeps the process alive until stop(). A probe that
    // watches no maps, without metrics, has nothing else that does (run() would then leave its
    // caller's await unsettled: exit 13 from a top-level await).
    this.statsTimer = setInterval(() => this.reportStats(`last ${every / 1000}s`), every);
    if (o.durationMs !== undefined) this.cancelDuration = longTimeout(() => void this.stop(), o.durationMs, false);
  }

  /** What holds memory, for the heap guard's message: the largest metric and the output queue. */
  private heapDescription(): string {
    const parts: string[] = [];
    let top: [string, number] | undefined;
    for (const e of this.metrics?.seriesCounts() ?? []) if (!top || e[1] > top[1]) top = e;
    if (top && top[1] > 0) parts.push(`${top[0]} holds ${top[1]} series (--max-series ${this.metrics!.maxSeries})`);
    if (this.stats.queueBytes >= 1 << 20) parts.push(`${(this.stats.queueBytes / (1 << 20)).toFixed(0)} MiB of JSON lines wait for stdout`);
    return parts.join(', ');
  }

  private reportStats(label: string): void {
    this.stats.refresh();
    const line = label === 'total' ? this.stats.summary() : this.stats.report(label);
    if (!line) return;
    if (this.sink.statsLine) this.sink.statsLine(line, label === 'total');
    else process.stderr.write(`${line}\n`);
  }

  private pinPrograms(dir: string): void {
    for (const p of this.obj!.programs.values()) {
      const target = programPinPath(dir, p.name, p.type);
      p.pin(target);
      this.sink.info(`Successfully pinned program '${target}'`);
    }
  }

  /** Whether a map's records need labels: a filter or a metric reads them, or the sink does. */
  private needsLabels(map: string): boolean {
    return this.sink.wantsLabels !== false || this.filters.some((f) => f.map === map) || !!this.metrics?.wantsEvents(map);
  }

  /** One record through the value tree: labels, filters, metrics, then the sink. */
  private labelledEvent(w: WatchedMap, view: DataView, off: number, write: ((view: DataView, off: number) => void) | undefined, need: boolean): void {
    let entry: BeeValue;
    try {
      entry = w.recordFmt!(view, off);
    } catch {
      this.stats.drop(w.name, 'decode_error');
      return;
    }
    const labels = need ? flattenLabels(entry) : NO_LABELS;
    const ok = !need || passes(this.filters, w.name, labels);
    if (need && this.metrics && (ok || !this.opts.filterMetrics)) this.metrics.onEvent(w.name, labels);
    if (!ok) return;
    if (write) write(view, off);
    else this.sink.event(w.name, entry, labels);
  }

  private startReaders(): void {
    const btf = this.obj!.spec.btf!;
    for (const w of this.watches) {
      if (w.kind !== 'events') continue;
      const map = this.obj!.map(w.name);
      const size = btf.sizeof(w.spec.valueTypeId!);
      const st = this.stats.of(w.name);
      // Sinks that print JSON lines get them from a writer compiled for the record type, straight
      // from the record's bytes into the sink's batch.
      const write = this.sink.eventWriter ? this.sink.eventWriter(w.name, compileJsonLine(btf, w.spec.valueTypeId!, w.name)) : undefined;
      // Labels (a value tree) only when a filter, a metric or the sink reads them (decided once per map).
      const need = this.needsLabels(w.name);
      const labelled = need || !write;
      const guard = this.heapGuard;
      const dropped = st.dropped;
      const onRecord = (view: DataView, off: number, len: number) => {
        // Timers run seldom while drains and GC keep the loop busy: the heap guard looks here too.
        if ((++st.records & 1023) === 0 && guard?.maybe()) return;
        // A record shorter than the struct cannot be decoded: count it and go on.
        if (len < size) {
          dropped.short_record++;
          return;
        }
        if (labelled) return this.labelledEvent(w, view, off, write, need);
        try {
          write!(view, off);
        } catch {
          this.stats.drop(w.name, 'decode_error');
        }
      };
      // Ring buffer: bounded drains (under a flood the walk would otherwise keep up with the
      // producer forever and starve signals, scrapes and stdout).
      const r: RecordReader =
        w.spec.type === MapType.RINGBUF
          ? new RingBufReader(map, { btf, valueTypeId: w.spec.valueTypeId, fullMargin: ((size + 8 + 7) & ~7) + 8, batch: DRAIN_RECORDS })
          : new PerfBufReader(map, { valueTypeId: w.spec.valueTypeId });
      r.onRaw(onRecord);
      // A ring's only sign of loss is a drain that found it full; a perf buffer counts its losses.
      this.stats.refreshers.push(() => {
        st.ringFullSightings = r.fullSeen;
        st.dropped.perf_lost = r.lost;
      });
      this.readers.push(r);
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

  /** Detach and close everything, once; later calls wait for the first. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    this.heapGuard?.stop();
    if (this.metrics) this.metrics.ready = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.cancelDuration?.();
    if (this.readers.length) this.reportStats('total');
    for (const r of this.readers) r.close();
    this.readers = [];
    for (const l of this.links) l.close();
    this.links = [];
    this.obj?.close();
    for (const fd of this.lockFds.splice(0)) fs.closeSync(fd);
    try {
      await this.metrics?.close();
    } finally {
      this.sink.stop();
      this.done();
    }
  }
}

/** A global's current value as text (the spec's image before load, the map after). */
function globalText(obj: BpfObject, name: string): string {
  try {
    return JSON.stringify(obj.globals.get(name), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return '?';
  }
}
