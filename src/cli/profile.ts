// `bee-ts prog profile PROG [duration D] METRIC...`, as bpftool's do_profile: one perf counter per
// metric per possible CPU, bee-ts's own profiler program (profiler.bpf.c, embedded as
// profiler-object.ts) loaded as an fentry/fexit pair on the profiled program's main function,
// the counters summed until D seconds pass or SIGINT, then printed in bpftool's text layout (its
// printf formats, including its single-precision ratio arithmetic) or its JSON array.
import type { Fd } from '../syscall/fd.js';
import { BpfError, EACCES, ENODEV, ENOENT, ENOTSUPP, EOPNOTSUPP, EPERM, errnoName } from '../syscall/errno.js';
import { progInfo } from '../syscall/info.js';
import { ioctl, PERF_EVENT_IOC_ENABLE, PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, perfEventOpen } from '../syscall/perf.js';
import { sys } from '../syscall/backend.js';
import type { Link } from '../link/link.js';
import { BpfObject } from '../loader/object.js';
import { matchPrefix } from './argv.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { btfById, openProgs, parseSelector } from './objects.js';
import { PROFILER_OBJECT } from './profiler-object.js';

const PERF_TYPE_HW_CACHE = 3;
const HW_CPU_CYCLES = 0n;
const HW_INSTRUCTIONS = 1n;
const CACHE_L1D = 0n;
const CACHE_LL = 2n;
const CACHE_DTLB = 3n;
const CACHE_ITLB = 4n;
const OP_READ = 0n;
const RESULT_ACCESS = 0n;
const RESULT_MISS = 1n;
const cache = (id: bigint, op: bigint, result: bigint) => id | (op << 8n) | (result << 16n);

export interface Metric {
  name: string;
  type: number;
  config: bigint;
  /** Index of the metric the ratio divides by (bpftool's ratio_metric - 1), or -1. */
  ratioOf: number;
  ratioDesc: string;
  /** bpftool's `const float ratio_mul`. */
  ratioMul: number;
  /** Not one of bpftool's: bee-ts's own addition. */
  beeTs?: true;
}

/**
 * bpftool's metrics, in its order (its prefix matching takes the first), then bee-ts's own:
 * `cpu_clock`, the software cpu-clock counter (nanoseconds), for kernels and VMs without a PMU,
 * where every one of bpftool's hardware counters is missing.
 */
export const METRICS: readonly Metric[] = [
  { name: 'cycles', type: PERF_TYPE_HARDWARE, config: HW_CPU_CYCLES, ratioOf: -1, ratioDesc: '', ratioMul: 0 },
  { name: 'instructions', type: PERF_TYPE_HARDWARE, config: HW_INSTRUCTIONS, ratioOf: 0, ratioDesc: 'insns per cycle', ratioMul: 1 },
  { name: 'l1d_loads', type: PERF_TYPE_HW_CACHE, config: cache(CACHE_L1D, OP_READ, RESULT_ACCESS), ratioOf: -1, ratioDesc: '', ratioMul: 0 },
  { name: 'llc_misses', type: PERF_TYPE_HW_CACHE, config: cache(CACHE_LL, OP_READ, RESULT_MISS), ratioOf: 1, ratioDesc: 'LLC misses per million insns', ratioMul: 1e6 },
  { name: 'itlb_misses', type: PERF_TYPE_HW_CACHE, config: cache(CACHE_ITLB, OP_READ, RESULT_MISS), ratioOf: 1, ratioDesc: 'itlb misses per million insns', ratioMul: 1e6 },
  { name: 'dtlb_misses', type: PERF_TYPE_HW_CACHE, config: cache(CACHE_DTLB, OP_READ, RESULT_MISS), ratioOf: 1, ratioDesc: 'dtlb misses per million insns', ratioMul: 1e6 },
  { name: 'cpu_clock', type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_CPU_CLOCK), ratioOf: -1, ratioDesc: '', ratioMul: 0, beeTs: true },
];
export const MAX_METRICS = 4;
/** bpftool's default duration: UINT_MAX seconds, i.e. until SIGINT. */
const UINT_MAX = 0xffffffff;

export interface ProfileArgs {
  sel: { how: string; what: string };
  /** Seconds to profile. */
  duration: number;
  /** Indexes into METRICS, in table order (bpftool keeps a selected flag per metric). */
  metrics: number[];
}

/** strtoul(s, &end, 0) accepting the whole word: decimal, 0x hex or 0 octal; undefined if not. */
export function parseUnsigned(s: string): bigint | undefined {
  const m = /^\s*\+?(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return undefined;
  if (m[1] !== undefined) return BigInt(`0x${m[1]}`);
  if (m[2] !== undefined) return BigInt(`0o${m[2].slice(1) || '0'}`);
  return BigInt(m[3]!);
}

/** bpftool's argument order: PROG, then `duration D` if more than two words follow, then metrics. */
export function parseProfileArgs(args: string[]): ProfileArgs {
  if (args.length < 3) throw new UsageError('prog profile: expected PROG [duration D] METRIC... (metrics: ' + METRICS.map((m) => m.name).join(', ') + ')');
  const { how, what, rest } = parseSelector(args, 'prog');
  let words = rest;
  let duration = UINT_MAX;
  if (words.length > 2 && matchPrefix(words[0], ['duration'])) {
    const d = parseUnsigned(words[1]!);
    if (d === undefined || d > BigInt(UINT_MAX)) throw new UsageError(`prog profile: duration '${words[1]}' is not a number of seconds from 0 to ${UINT_MAX}`);
    duration = Number(d);
    words = words.slice(2);
  }
  const names = METRICS.map((m) => m.name);
  const selected = new Set<number>();
  for (const w of words) {
    const name = matchPrefix(w, names);
    if (!name) throw new UsageError(`prog profile: unknown metric ${w} (metrics: ${names.join(', ')})`);
    selected.add(names.indexOf(name));
  }
  if (selected.size === 0) throw new UsageError('prog profile: no metric given');
  if (selected.size > MAX_METRICS) throw new UsageError(`prog profile: too many (${selected.size}) metrics, please specify no more than ${MAX_METRICS} metrics at a time`);
  return { sel: { how, what }, duration, metrics: [...selected].sort((a, b) => a - b) };
}

// ---- bpftool's printf formats ----

/** C's (float) conversion of a u64: correctly rounded (to nearest, ties to even) from the integer itself. */
export function u64ToFloat(v: bigint): number {
  if (v < 1n << 53n) return Math.fround(Number(v));
  const bits = v.toString(2).length;
  const shift = BigInt(bits - 24);
  let mant = v >> shift;
  const rem = v & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (mant & 1n) === 1n)) mant += 1n;
  return Math.fround(Number(mant) * 2 ** Number(shift));
}

/** printf("%.Nf", x) as glibc prints it: the exact binary value rounded half to even. */
export function fixed(x: number, prec: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  // a = mant * 2^exp exactly.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, a);
  const hi = buf.getUint32(0);
  const e = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(buf.getUint32(4));
  let exp: number;
  if (e === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = e - 1075;
  }
  const scale = 10n ** BigInt(prec);
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * scale;
  else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString().padStart(prec + 1, '0');
  if (prec > 0) s = `${s.slice(0, -prec)}.${s.slice(-prec)}`;
  return (neg ? '-' : '') + s;
}

const padLeft = (s: string, w: number) => s.padStart(w);
const padRight = (s: string, w: number) => s.padEnd(w);

export interface Reading {
  counter: bigint;
  enabled: bigint;
  running: bigint;
}

/** bpftool's profile_print_readings_plain: `readings` by METRICS index, for the selected ones. */
export function profileText(runCnt: bigint, readings: ReadonlyMap<number, Reading>): string {
  let s = `\n${padLeft(runCnt.toString(), 18)} ${padRight('run_cnt', 20)}\n`;
  for (const [m, val] of [...readings].sort((a, b) => a[0] - b[0])) {
    const metric = METRICS[m]!;
    s += `${padLeft(val.counter.toString(), 18)} ${padRight(metric.name, 20)}`;
    const r = metric.ratioOf;
    const base = r >= 0 ? readings.get(r) : undefined;
    if (base && base.counter > 0n) {
      // val->counter * ratio_mul / base->counter, in float: u64 * float and float / u64 are float operations.
      const ratio = Math.fround(Math.fround(u64ToFloat(val.counter) * Math.fround(metric.ratioMul)) / u64ToFloat(base.counter));
      s += `# ${padLeft(fixed(ratio, 2), 8)} ${padRight(metric.ratioDesc, 30)}`;
    } else s += ' '.repeat(41);
    if (val.enabled > val.running) s += `(${padLeft(fixed((Number(val.running) * 100.0) / Number(val.enabled), 2), 4)}%)`;
    s += '\n';
  }
  return s;
}

/** bpftool's profile_print_readings_json (the writer's closing newline included). */
export function profileJson(runCnt: bigint, readings: ReadonlyMap<number, Reading>): string {
  const rows = [...readings]
    .sort((a, b) => a[0] - b[0])
    .map(([m, v]) => ({ metric: METRICS[m]!.name, run_cnt: runCnt, value: v.counter, enabled: v.enabled, running: v.running }));
  return jsonText(rows) + '\n';
}

// ---- the kernel side ----

/** The name bpftool attaches to: the BTF name of the program's first function (its main one). */
function targetFunction(fd: Fd, what: string): string {
  const info = progInfo(fd.value, { funcInfo: true });
  if (!info.btfId) throw new CliExit(`prog profile: program ${what} was loaded without BTF; profiling attaches fentry/fexit to its function and needs its BTF (build it with clang -g)`);
  if (!info.nrFuncInfo || info.firstFuncTypeId === undefined) throw new CliExit(`prog profile: program ${what} has no func_info (BTF functions); profiling attaches to its BTF function`);
  const btf = btfById(info.btfId);
  const name = btf?.typeOrUndefined(info.firstFuncTypeId)?.name;
  if (!name) throw new CliExit(`prog profile: btf ${info.btfId} of program ${what} doesn't have type ${info.firstFuncTypeId}`);
  return name;
}

/** Why the kernel refused to load the profiler, naming what it lacks. */
function loadRefusal(e: unknown, target: string): never {
  const errno = e instanceof BpfError ? e.errno : (e as Error).cause instanceof BpfError ? ((e as Error).cause as BpfError).errno : undefined;
  const base = `prog profile: cannot load the fentry/fexit profiler on ${target}`;
  if (errno === EPERM || errno === EACCES)
    throw new CliExit(
      `${base}: this kernel refuses fentry/fexit (BPF_PROG_TYPE_TRACING) programs even to root (${errnoName(errno)} from BPF_PROG_LOAD: kernel lockdown or another LSM forbids them); prog profile needs them`,
    );
  if (errno === ENOTSUPP || errno === EOPNOTSUPP)
    throw new CliExit(`${base}: this kernel has no BPF trampolines for fentry/fexit (${errnoName(errno)}: needs an x86-64 or arm64 JIT with CONFIG_BPF_JIT and Linux 5.5+); prog profile needs them`);
  throw new CliExit(`${base}: ${(e as Error).message}`);
}

function perfRefusal(metric: Metric, cpu: number, e: unknown): never {
  const errno = e instanceof BpfError ? e.errno : undefined;
  const why =
    errno === ENOENT || errno === EOPNOTSUPP
      ? metric.type === PERF_TYPE_SOFTWARE
        ? 'this kernel has no such software counter'
        : `this CPU offers no such hardware counter (no PMU driver: a VM without a virtual PMU, or an unsupported CPU${METRICS.some((m) => m.beeTs) ? '; cpu_clock is a software counter that works there' : ''})`
      : (e as Error).message;
  throw new CliExit(`failed to create event ${metric.name} on cpu ${cpu}: ${why}`);
}

/** Resolves after `seconds` or at SIGINT (bpftool's sleep(duration) and int_exit). */
function waitFor(seconds: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', done);
      resolve();
    };
    process.on('SIGINT', done);
    // setTimeout takes at most 2^31-1 ms: wait in steps.
    let left = seconds * 1000;
    const step = () => {
      if (left <= 0) return done();
      const ms = Math.min(left, 0x7fffffff);
      left -= ms;
      timer = setTimeout(step, ms);
    };
    step();
  });
}

export async function progProfile(args: string[], json: boolean): Promise<void> {
  const a = parseProfileArgs(args);
  const fds = openProgs(a.sel);
  const events: Fd[] = [];
  const links: Link[] = [];
  let obj: BpfObject | undefined;
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    const tgt = fds[0]!;
    const what = a.sel.how === 'id' ? `id ${a.sel.what}` : `${a.sel.how} ${a.sel.what}`;
    const func = targetFunction(tgt, what);
    const ncpu = sys().numPossibleCpus();
    const nm = a.metrics.length;
    obj = BpfObject.fromBytes(Buffer.from(PROFILER_OBJECT, 'base64'), { file: 'bee-ts profiler' });
    obj.setConstant('num_cpu', ncpu);
    obj.setConstant('num_metric', nm);
    obj.mapSpec('events').setMaxEntries(nm * ncpu);
    obj.mapSpec('entry_values').setMaxEntries(nm);
    obj.mapSpec('sums').setMaxEntries(nm);
    obj.mapSpec('runs').setMaxEntries(1);
    for (const p of ['profile_entry', 'profile_exit']) obj.programSpec(p).setAttachTarget(func, tgt.value);
    try {
      obj.load();
    } catch (e) {
      loadRefusal(e, `'${func}' (${what})`);
    }
    // Metric m on CPU c at index m * ncpu + c, as the program reads them; a possible CPU that is
    // offline (ENODEV) keeps its slot empty, as bpftool 7.2+ does.
    const eventsMap = obj.map('events');
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(4);
    let slot = 0;
    for (const m of a.metrics) {
      const metric = METRICS[m]!;
      for (let cpu = 0; cpu < ncpu; cpu++, slot++) {
        let fd: Fd;
        try {
          fd = perfEventOpen({ type: metric.type, config: metric.config, excludeUser: true }, -1, cpu, `${metric.name} on cpu ${cpu}`);
        } catch (e) {
          if (e instanceof BpfError && e.errno === ENODEV) {
            if (!json && !globals.json) process.stderr.write(`cpu ${cpu} may be offline, skip ${metric.name} profiling.\n`);
            continue;
          }
          perfRefusal(metric, cpu, e);
        }
        events.push(fd);
        try {
          key.writeUInt32LE(slot, 0);
          value.writeUInt32LE(fd.value, 0);
          eventsMap.updateRaw(key, value);
          ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, `${metric.name} on cpu ${cpu}`);
        } catch (e) {
          perfRefusal(metric, cpu, e);
        }
      }
    }
    for (const p of ['profile_entry', 'profile_exit']) {
      try {
        links.push(obj.program(p).attach());
      } catch (e) {
        throw new CliExit(`prog profile: failed to attach the profiler to '${func}' (${what}): ${(e as Error).message}`);
      }
    }
    await waitFor(a.duration);
    // bpftool: close the counters, then read the sums.
    for (const f of events.splice(0)) f.close();
    const zero = Buffer.alloc(4);
    const runs = obj.map('runs').lookupRaw(zero);
    let runCnt = 0n;
    if (runs) for (let c = 0; c < ncpu; c++) runCnt = (runCnt + Buffer.from(runs.buffer, runs.byteOffset, runs.byteLength).readBigUInt64LE(c * 8)) & 0xffffffffffffffffn;
    const sums = obj.map('sums');
    const readings = new Map<number, Reading>();
    a.metrics.forEach((m, i) => {
      key.writeUInt32LE(i, 0);
      const raw = sums.lookupRaw(key);
      const r: Reading = { counter: 0n, enabled: 0n, running: 0n };
      if (raw) {
        const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        for (let c = 0; c < ncpu; c++) {
          r.counter = (r.counter + b.readBigUInt64LE(c * 24)) & 0xffffffffffffffffn;
          r.enabled = (r.enabled + b.readBigUInt64LE(c * 24 + 8)) & 0xffffffffffffffffn;
          r.running = (r.running + b.readBigUInt64LE(c * 24 + 16)) & 0xffffffffffffffffn;
        }
      }
      readings.set(m, r);
    });
    process.stdout.write(json || globals.json ? profileJson(runCnt, readings) : profileText(runCnt, readings));
  } finally {
    for (const l of links) l.close();
    for (const f of events) f.close();
    obj?.close();
    for (const f of fds) f.close();
  }
}
