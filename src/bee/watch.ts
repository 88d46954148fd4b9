// Which maps `bee-ts run` watches and how (shared notes §1–§3): the maps with a role (roles.ts:
// a print_/counter_/gauge_/hist_ name prefix or a `.maps.<role>` section); ring buffers and perf
// event arrays are event streams decoded with their declared value struct; hashes and arrays are polled.
// Everything is validated at start, with errors naming the map.
import { BeeTsError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { BtfError, BtfKind } from '../btf/types.js';
import type { MapSpec, ObjectSpec } from '../loader/spec.js';
import { MapType, mapTypeName } from '../syscall/constants.js';
import { type BeeFormatter, compileFormatter, flattenLabels, FormatError } from './format.js';
import { beeRoles, type MapRole } from './roles.js';

export class WatchError extends BeeTsError {
  constructor(
    readonly map: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('WATCH', `map '${map}': ${message}`, options);
  }
}

export const DEFAULT_BUCKETS = [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

export interface WatchedMap {
  name: string;
  role: MapRole;
  kind: 'events' | 'poll';
  spec: MapSpec;
  /** events: the record; poll: the key. */
  recordFmt?: BeeFormatter;
  keyFmt?: BeeFormatter;
  valueFmt?: BeeFormatter;
  /** Polled values that are integers (metrics need numbers). */
  valueIsInt: boolean;
  /** A scalar key prints under the label `key`. */
  scalarKey: boolean;
  /** Label names for metrics/TUI/filters (record fields, or key fields), in sorted order. */
  labels: string[];
  /** hist_/gauge_ ring buffers: the field observed or set (not a label). */
  valueField?: string;
  buckets?: number[];
}

export interface WatchOptions {
  /** -k/--hist-value-key map,field (also picks a gauge ring buffer's field). */
  histValueKeys?: Map<string, string>;
  /** -b/--hist-buckets map,[l1,l2,...] */
  histBuckets?: Map<string, number[]>;
}

const POLLED = new Set<number>([MapType.HASH, MapType.LRU_HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

function isStruct(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === BtfKind.Struct || t.kind === BtfKind.Union;
}

/** Label names of a formatter's output, by formatting a zeroed value once. */
function labelNames(fmt: BeeFormatter, size: number, scalarAs?: string): string[] {
  const v = fmt(new DataView(new ArrayBuffer(Math.max(size, 8))), 0);
  if (typeof v === 'string' || Array.isArray(v)) return [scalarAs ?? 'value'];
  return Object.keys(flattenLabels(v)).sort();
}

/**
 * The maps `bee-ts run` watches, each validated (record and key formatters, the -k field, the
 * buckets); maps without a role are left out.
 *
 * @throws SpecError when a map's name prefix and section suffix disagree (roles.ts); WatchError
 * for a marked map that cannot be watched.
 */
export function planWatches(spec: ObjectSpec, opts: WatchOptions = {}): WatchedMap[] {
  const out: WatchedMap[] = [];
  const btf = spec.btf;
  const roles = beeRoles(spec);
  for (const m of spec.maps) {
    const role = roles.get(m.name)?.role;
    if (!role) continue;
    const name = m.name;
    const fail = (msg: string): never => {
      throw new WatchError(name, msg);
    };
    if (!btf) fail('has a bee role but the object has no BTF; compile with clang -g');
    const fmt = (id: number, what: string) => {
      try {
        return compileFormatter(btf!, id);
      } catch (e) {
        // A type the BTF cannot size or lay out is this map's problem: say which map.
        if (e instanceof FormatError || e instanceof BtfError) return fail(`${what}: ${e.message}`);
        throw e;
      }
    };
    if (m.type === MapType.RINGBUF || m.type === MapType.PERF_EVENT_ARRAY) {
      if (!m.valueTypeId) fail(`a watched ${mapTypeName(m.type)} needs its record type: __type(value, struct ...)`);
      if (!isStruct(btf!, m.valueTypeId!)) fail(`the ${mapTypeName(m.type)} value type must be a struct (through typedefs), not ${btf!.resolve(m.valueTypeId!).name || BtfKind[btf!.resolve(m.valueTypeId!).kind]}`);
      const recordFmt = fmt(m.valueTypeId!, 'record');
      let labels = labelNames(recordFmt, btf!.sizeof(m.valueTypeId!));
      const w: WatchedMap = { name, role, kind: 'events', spec: m, recordFmt, valueIsInt: false, scalarKey: false, labels };
      if (role === 'hist' || role === 'gauge') {
        const field = opts.histValueKeys?.get(name) ?? (role === 'hist' ? 'le' : labels.includes('value') ? 'value' : labels.includes('le') ? 'le' : undefined);
        if (!field) fail(`a gauge_ ring buffer sets its gauge from a numeric field: name one with -k ${name},<field> (fields: ${labels.join(', ')})`);
        if (!labels.includes(field!)) fail(`has no field '${field}' to ${role === 'hist' ? 'observe' : 'set'} (fields: ${labels.join(', ')}); use -k ${name},<field>`);
        // A field filled with 'A' bytes reads as digits when it is a number, as "AAAA" when it is text.
        const probe = new Uint8Array(Math.max(btf!.sizeof(m.valueTypeId!), 8)).fill(0x41);
        const sample = flattenLabels(recordFmt(new DataView(probe.buffer), 0))[field!];
        if (sample !== undefined && !/^-?\d+$/.test(sample)) fail(`field '${field}' is not a number (it reads as ${JSON.stringify(sample.slice(0, 8))}...): -k ${name},<field> needs an integer field (fields: ${labels.join(', ')})`);
        w.valueField = field;
        labels = labels.filter((l) => l !== field);
        if (role === 'hist' && labels.includes('le')) fail(`field 'le' would become a label, but Prometheus reserves 'le' for histogram buckets: observe it (-k ${name},le) or rename it`);
        w.labels = labels;
        if (role === 'hist') w.buckets = opts.histBuckets?.get(name) ?? DEFAULT_BUCKETS;
      }
      out.push(w);
      continue;
    }
    if (POLLED.has(m.type)) {
      if (!m.keyTypeId || !m.valueTypeId) fail(`a watched ${mapTypeName(m.type)} needs BTF key and value types (__type(key, ...), __type(value, ...))`);
      const keyFmt = fmt(m.keyTypeId!, 'key');
      const valueFmt = fmt(m.valueTypeId!, 'value');
      const vt = btf!.resolve(m.valueTypeId!);
      const valueIsInt = vt.kind === BtfKind.Int || vt.kind === BtfKind.Enum || vt.kind === BtfKind.Enum64;
      if ((role === 'counter' || role === 'gauge') && !valueIsInt) fail(`a ${role}_ map's value must be an integer, not ${vt.name || BtfKind[vt.kind]}`);
      const scalarKey = !isStruct(btf!, m.keyTypeId!);
      out.push({ name, role, kind: 'poll', spec: m, keyFmt, valueFmt, valueIsInt, scalarKey, labels: labelNames(keyFmt, m.keySize, 'key') });
      continue;
    }
    fail(`${mapTypeName(m.type)} maps cannot be watched (ring buffers, perf event arrays, hash and array maps can)`);
  }
  return out;
}
