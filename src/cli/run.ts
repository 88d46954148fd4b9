// `bee-ts run <probe.o>` wiring: bee's flags (shared notes §10) parsed and validated, then the
// runner with JSON lines (headless) or the TUI (a terminal).
import fs from 'node:fs';
import { BeeRunner, JsonLinesSink, type RunOptions, type Sink } from '../bee/runner.js';
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
}

function parseNaming(s: string | undefined): MetricsNaming {
  if (s === undefined) return 'bee';
  if (!(METRICS_NAMINGS as readonly string[]).includes(s)) throw new UsageError(`--metrics-naming: '${s}' is not ${METRICS_NAMINGS.join(' or ')}`);
  return s as MetricsNaming;
}

/** "500ms", "2s", "1m", or a number of milliseconds. */
export function parseDuration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new UsageError(`${flag}: '${s}' is not a duration (e.g. 500ms, 2s)`);
  const n = Number(m[1]);
  const ms = m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60000 : n;
  if (ms <= 0) throw new UsageError(`${flag}: must be positive`);
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
  const port = Number(f.promPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--prom-port: '${f.promPort}' is not a port`);
  return {
    filters: f.filter ?? [],
    histBuckets,
    histValueKeys,
    pollIntervalMs: parseDuration(f.pollInterval, '--poll-interval'),
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
  };
}

/** Run a probe file, or (with `program`) an image's object named by its reference. */
export async function runCommand(file: string, f: RunFlags, program?: Uint8Array): Promise<void> {
  if (!program && !fs.existsSync(file)) throw new UsageError(`${file}: no such file (bee-ts runs compiled probes: build one with \`bee-ts build probe.c\`)`);
  const opts = { ...parseRunOptions(f), program };
  const useTui = f.tty && process.stdout.isTTY === true;
  let runner: BeeRunner | undefined;
  const stop = () => void runner?.stop();
  const sink: Sink = useTui ? new TuiSink(stop) : new JsonLinesSink();
  runner = new BeeRunner(file, opts, sink);
  const onSignal = () => stop();
  // Persistent listeners (not once): the link layer sees someone handles the signal and does not re-raise it.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runner.run();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (runner.badRecords) process.stderr.write(`bee-ts: ${runner.badRecords} records could not be decoded and were skipped\n`);
}
