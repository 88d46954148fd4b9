// `bee-ts run`'s output side: the Sink interface the runner writes to (JSON lines or the TUI,
// tui.ts) and the headless JSON lines sink with its bounded queue that follows stdout's
// backpressure (what does not fit is dropped and counted in the run's stats).
import { type BeeValue, sortKeys } from './format.js';
import type { JsonLineWriter } from './jsonline.js';
import type { RunStats } from './stats.js';
import type { WatchedMap } from './watch.js';

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
