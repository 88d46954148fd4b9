// `bee-ts run <probe.o>` wiring: bee's flags (shared notes §10) parsed and validated, then the
// runner with JSON lines (headless) or the TUI (a terminal).
import fs from 'node:fs';
import { BeeRunner, MAX_TIMER_MS, type RunOptions } from '../bee/runner.js';
import { JsonLinesSink } from '../bee/sink.js';
import { FATAL_SIGNALS } from '../link/link.js';
import { createRequire } from 'node:module';
import { METRICS_NAMINGS, type MetricsNaming } from '../bee/naming.js';
import { TuiSink } from '../bee/tui.js';
import { UsageError } from './errors.js';
import { parseSet } from './loadall.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface RunFlags {
  filter?: string[];
  histBuckets?: string[];
  histValueKey?: string[];
  tty: boolean;
  pinMaps?: string;
  pinProgs?: string;
  promPort: string;
  promAddress: string;
  pollInterval: string;
  set?: string[];
  verbose?: boolean;
  metrics: boolean;
  filterMetrics?: boolean;
  duration?: string;
  btf?: string;
  debug?: boolean;
  metricsNaming?: string;
  maxSeries?: string;
  statsInterval?: string;
  drainThread?: boolean;
}

function parseNaming(s: string | undefined): MetricsNaming {
  if (s === undefined) return 'bee';
  if (!(METRICS_NAMINGS as readonly string[]).includes(s)) throw new UsageError(`--metrics-naming: '${s}' is not ${METRICS_NAMINGS.join(' or ')}`);
  return s as MetricsNaming;
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
/** Go's time.Duration limit (2^63 - 1 ns, about 292 years). */
const MAX_DURATION_NS = 2 ** 63 - 1;

/**
 * A Go duration (time.ParseDuration: `300ms`, `1.5s`, `1h30m`, `40000m`; units ns, us/µs, ms, s,
 * m, h) in milliseconds. A bare number other than 0 is refused, as Go refuses it.
 */
export function parseDuration(s: string, flag: string): number {
  const text = s.trim();
  const bad = (why: string): never => {
    throw new UsageError(`${flag}: '${s}' ${why}`);
  };
  if (/^\d+(\.\d*)?$/.test(text) && Number(text) !== 0) bad(`has no unit: write a Go duration such as ${text}s, ${text}ms or 1h30m`);
  if (!/^(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))*$/.test(text)) bad('is not a duration (e.g. 300ms, 1.5s, 1h30m)');
  let ns = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
  if (!Number.isFinite(ns) || ns > MAX_DURATION_NS) bad('is longer than a Go duration can be (about 292 years)');
  const ms = ns / 1e6;
  if (ms <= 0) bad('must be positive');
  return ms;
}

export function parseRunOptions(f: RunFlags): RunOptions {
  const histBuckets = new Map<string, number[]>();
  for (const b of f.histBuckets ?? []) {
    const i = b.indexOf(',');
    if (i <= 0) throw new UsageError(`-b/--hist-buckets expects map,[l1,l2,...], got '${b}'`);
    const list = b.slice(i + 1).replace(/^\[|\]$/g, '').split(',').map((x) => Number(x.trim()));
    if (list.length === 0 || list.some((x) => !Number.isFinite(x))) throw new UsageError(`-b ${b}: bucket limits must be numbers`);
    histBuckets.set(b.slice(0, i), [...list].sort((x, y) => x - y));
  }
  const histValueKeys = new Map<string, string>();
  for (const k of f.histValueKey ?? []) {
    const [map, field, ...rest] = k.split(',');
    if (!map || !field || rest.length) throw new UsageError(`-k/--hist-value-key expects map,field, got '${k}'`);
    histValueKeys.set(map, field);
  }
  const maxSeries = f.maxSeries === undefined ? undefined : Number(f.maxSeries);
  if (f.maxSeries !== undefined && maxSeries !== undefined && (!/^\d+$/.test(f.maxSeries) || !Number.isSafeInteger(maxSeries) || maxSeries < 1)) throw new UsageError(`--max-series: '${f.maxSeries}' is not a positive whole number`);
  const port = Number(f.promPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--prom-port: '${f.promPort}' is not a port`);
  const timer = (text: string, flag: string) => {
    const ms = parseDuration(text, flag);
    if (ms > MAX_TIMER_MS) throw new UsageError(`${flag}: '${text}' is longer than bee-ts can wait between two rounds (about 24 days)`);
    return ms;
  };
  return {
    filters: f.filter ?? [],
    histBuckets,
    histValueKeys,
    pollIntervalMs: timer(f.pollInterval, '--poll-interval'),
    promPort: port,
    promAddress: f.promAddress,
    noMetrics: !f.metrics,
    filterMetrics: f.filterMetrics,
    pinMaps: f.pinMaps,
    pinProgs: f.pinProgs,
    sets: (f.set ?? []).map(parseSet),
    verbose: f.verbose,
    durationMs: f.duration ? parseDuration(f.duration, '--duration') : undefined,
    btfPath: f.btf,
    metricsNaming: parseNaming(f.metricsNaming),
    version: pkg.version,
    maxSeries,
    statsIntervalMs: f.statsInterval === undefined ? undefined : timer(f.statsInterval, '--stats-interval'),
    drainThread: f.drainThread,
  };
}

/** How long a signalled run may take to detach everything before it is forced out. */
export const STOP_DEADLINE_MS = 2000;

/**
 * Wait until `out` has written what it holds, or `ms` passed (a stalled reader). An empty write's
 * callback runs once everything queued before it is flushed ('drain' would come only after a write
 * that crossed the high-water mark). The timer is not unref'd: it is what keeps the process alive
 * while a write is pending, so the wait always ends with a real exit code (an emptied event loop
 * under a pending await exits 13).
 */
function drained(out: NodeJS.WriteStream, ms: number): Promise<void> {
  if (out.writableLength === 0 || out.destroyed) return Promise.resolve();
  return new Promise((res) => {
    const t = setTimeout(res, ms);
    out.write('', () => {
      clearTimeout(t);
      res();
    });
  });
}

/** Run a probe file, or (with `program`) an image's object named by its reference. */
export async function runCommand(file: string, f: RunFlags, program?: Uint8Array): Promise<void> {
  if (!program && !fs.existsSync(file)) throw new UsageError(`${file}: no such file (bee-ts runs compiled probes: build one with \`bee-ts build probe.c\`)`);
  const opts = { ...parseRunOptions(f), program };
  const useTui = f.tty && process.stdout.isTTY === true;
  let runner: BeeRunner | undefined;
  const stop = () => void runner?.stop();
  runner = new BeeRunner(file, opts, useTui ? new TuiSink(stop) : new JsonLinesSink(process.stdout));
  const sink = runner.sink;
  // A fatal signal stops the run: everything detached, then exit 0. Stopping has a deadline, and
  // a second signal does not wait for it (links still detach in the 'exit' hook).
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      process.stderr.write(`bee-ts: ${sig} again: exiting now\n`);
      process.exit(1);
    }
    signalled = true;
    setTimeout(() => {
      process.stderr.write(`bee-ts: could not stop within ${STOP_DEADLINE_MS / 1000}s: exiting\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    stop();
  };
  for (const sig of FATAL_SIGNALS) process.on(sig, onSignal);
  // stdout closed by its reader (`| head`): stop like on a signal.
  const onOutputError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') onSignal('SIGPIPE');
  };
  process.stdout.on('error', onOutputError);
  try {
    await runner.run();
  } finally {
    for (const sig of FATAL_SIGNALS) process.off(sig, onSignal);
  }
  if (sink instanceof JsonLinesSink && !process.stdout.destroyed) await drained(process.stdout, 500);
}
