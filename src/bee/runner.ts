// `bee-ts run`: load a probe, attach every program by its section, and turn its marked maps into
// output — JSON lines (headless) or a TUI, plus Prometheus metrics — until stopped (a signal,
// --duration, a closed stdout). Memory is bounded end to end: JSON lines wait in a bounded queue
// that respects stdout's backpressure, and what is dropped anywhere is counted (stats.ts).
//
// The run's lifecycle (load, attach, readers, polls, sinks, stop) is one state machine; its
// pieces live beside it (watch, format, filter, metrics, stats, heap, sink, tui).
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
import { relayAvailable } from '../ringbuf/relay.js';
import { type BeeValue, flattenLabels } from './format.js';
import { compileJsonLine } from './jsonline.js';
import { type Filter, parseFilters, passes } from './filter.js';
import { sha256 } from './image.js';
import { HeapGuard, type HeapLimitError } from './heap.js';
import { BeeMetrics } from './metrics.js';
import type { MetricsNaming } from './naming.js';
import { lockPinDir, PinError, pinDir, programPinPath } from './pins.js';
import type { PollEntry, Sink } from './sink.js';
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
  /** Drain ring buffers on a thread of their own where one can run (--drain-thread; src/ringbuf/relay.ts). */
  drainThread?: boolean;
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

function sumOrFirst(values: BeeValue[]): BeeValue {
  if (values.every((v) => typeof v === 'string' && /^-?\d+$/.test(v))) return values.reduce((a, v) => a + BigInt(v as string), 0n).toString();
  return values;
}

/** Most records one drain of a ring hands over before the event loop gets a turn. */
const DRAIN_RECORDS = 4096;

/** Rings up to this size get a drain thread, with a queue of DRAIN_QUEUE_RINGS rings' worth. */
const DRAIN_THREAD_MAX_RING = 4 << 20;
const DRAIN_QUEUE_RINGS = 4;

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
      // --drain-thread: a thread empties the ring while this one is away (GC, stdout, a busy
      // host) into a queue of DRAIN_QUEUE_RINGS rings' worth (src/ringbuf/relay.ts).
      const thread = this.opts.drainThread === true && map.maxEntries <= DRAIN_THREAD_MAX_RING && relayAvailable();
      const r: RecordReader =
        w.spec.type === MapType.RINGBUF
          ? new RingBufReader(map, { btf, valueTypeId: w.spec.valueTypeId, fullMargin: ((size + 8 + 7) & ~7) + 8, batch: DRAIN_RECORDS, drainThread: thread ? DRAIN_QUEUE_RINGS * map.maxEntries : 0 })
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
