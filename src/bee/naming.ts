// Metric names for a watched map. Two schemes:
//   bee (default): `ebpf_solo_io_<map>`, labels as the struct's fields: what bee writes, so bee's
//     dashboards keep working.
//   prometheus (`--metrics-naming prometheus`): Prometheus' naming conventions, as `promtool check
//     metrics` checks them: `ebpf_<map without its role word>[_<base unit>][_total]` in snake_case;
//     the role words (counter, gauge, hist, ...) dropped; a unit token (`_us`, `_ms`, `_kb`,
//     `_microseconds` ...) becomes the base unit (`_seconds`, `_bytes`) and values and histogram
//     buckets are converted to it; counters end in `_total`; label names in snake_case.
export type MetricsNaming = 'bee' | 'prometheus';
export const METRICS_NAMINGS: readonly MetricsNaming[] = ['bee', 'prometheus'];

const sanitize = (s: string) => s.replace(/[^a-zA-Z0-9_:]/g, '_');

/** A unit token → its base unit and the factor to it (value * mul / div, exact for decimal units). */
const UNITS: Record<string, { base: string; mul: number; div: number }> = {};
const unit = (names: string[], base: string, mul: number, div: number) => {
  for (const n of names) UNITS[n] = { base, mul, div };
};
unit(['ns', 'nsec', 'nsecs', 'nanosecond', 'nanoseconds'], 'seconds', 1, 1e9);
unit(['us', 'usec', 'usecs', 'microsecond', 'microseconds'], 'seconds', 1, 1e6);
unit(['ms', 'msec', 'msecs', 'millisecond', 'milliseconds'], 'seconds', 1, 1e3);
unit(['s', 'sec', 'secs', 'second', 'seconds'], 'seconds', 1, 1);
unit(['min', 'mins', 'minute', 'minutes'], 'seconds', 60, 1);
unit(['h', 'hour', 'hours'], 'seconds', 3600, 1);
unit(['d', 'day', 'days'], 'seconds', 86400, 1);
unit(['b', 'byte', 'bytes'], 'bytes', 1, 1);
unit(['kb', 'kilobyte', 'kilobytes'], 'bytes', 1e3, 1);
unit(['kib', 'kibibyte', 'kibibytes'], 'bytes', 1024, 1);
unit(['mb', 'megabyte', 'megabytes'], 'bytes', 1e6, 1);
unit(['mib', 'mebibyte', 'mebibytes'], 'bytes', 1 << 20, 1);
unit(['gb', 'gigabyte', 'gigabytes'], 'bytes', 1e9, 1);
unit(['gib', 'gibibyte', 'gibibytes'], 'bytes', 1 << 30, 1);

/** Words that name a metric type or a bee role: not part of a Prometheus metric name. */
const TYPE_WORDS = new Set(['counter', 'counters', 'gauge', 'gauges', 'hist', 'histogram', 'histograms', 'summary', 'print', 'total']);

/** `readLatencyUS` → `read_latency_us`; other characters to `_`, runs collapsed. */
export function snakeCase(s: string): string {
  return sanitize(s)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
}

export interface MetricNaming {
  name: string;
  /** Converts a value from the map to the metric's unit. */
  convert: (v: number) => number;
  /** What the conversion is, for the help text ('' when none). */
  conversion: string;
}

const identity = (v: number) => v;

/** The metric for map `map` of bee role `role` under `naming`. */
export function nameMetric(map: string, role: 'counter' | 'gauge' | 'hist', naming: MetricsNaming): MetricNaming {
  if (naming === 'bee') return { name: `ebpf_solo_io_${sanitize(map)}`, convert: identity, conversion: '' };
  const tokens = snakeCase(map)
    .split('_')
    .filter((t) => t && !TYPE_WORDS.has(t));
  let u: (typeof UNITS)[string] | undefined;
  let from = '';
  for (let i = tokens.length - 1; i >= 0 && !u; i--)
    if (UNITS[tokens[i]!]) {
      from = tokens[i]!;
      u = UNITS[from];
      tokens.splice(i, 1);
    }
  // `rx_bytes_kb` → rx_bytes: the base unit is appended once.
  if (u) for (let i = tokens.length - 1; i >= 0; i--) if (tokens[i] === u.base) tokens.splice(i, 1);
  const parts = ['ebpf', ...(tokens.length ? tokens : ['value'])];
  if (u) parts.push(u.base);
  if (role === 'counter') parts.push('total');
  const name = parts.join('_').replace(/^(\d)/, '_$1');
  if (!u || (u.mul === 1 && u.div === 1)) return { name, convert: identity, conversion: '' };
  const { mul, div } = u;
  return { name, convert: mul === 1 ? (v) => v / div : (v) => (v * mul) / div, conversion: `values in ${from} converted to ${u.base}` };
}

/** A struct field's label name under `naming` (Prometheus' reserved `__` prefix avoided). */
export function nameLabel(field: string, naming: MetricsNaming): string {
  if (naming === 'bee') return sanitize(field);
  const s = snakeCase(field) || 'field';
  return /^\d/.test(s) ? `_${s}` : s;
}
