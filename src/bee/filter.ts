// --filter map,field,regex (shared notes §8): bee CSV-splits every occurrence, so a regex with a
// comma must be quoted ("a,b"). Validated at start: the map must be watched, the field one of its
// labels (not `value`), the regex valid. bee-ts allows several filters per map (all must match)
// and applies them to JSON lines and the TUI. Regexes are RE2's, as in bee (Go's regexp), through
// re2js, a pure-JS port: matching is linear in the input, so a pattern like `(a+)+$` cannot stall
// the process on a long kernel string, and bee's filters port unchanged (`(?P<name>...)` works;
// lookaround and backreferences are refused, as Go refuses them).
import { RE2JS } from 're2js';
import { BeeTsError } from '../errors.js';
import type { WatchedMap } from './watch.js';

export class FilterError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('FILTER', message, options);
  }
}

export interface Filter {
  map: string;
  field: string;
  re: RE2JS;
  source: string;
}

/** Split one --filter occurrence like Go's csv reader (quotes group commas). */
function csvSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"' && cur === '') q = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export function parseFilters(args: string[], watches: WatchedMap[]): Filter[] {
  const fields = args.flatMap(csvSplit);
  if (fields.length % 3 !== 0)
    throw new FilterError(`filter syntax error, each filter should have 3 fields (map,field,regex), found ${fields.length} fields total`);
  const out: Filter[] = [];
  for (let i = 0; i < fields.length; i += 3) {
    const [map, field, source] = [fields[i]!, fields[i + 1]!, fields[i + 2]!];
    const w = watches.find((x) => x.name === map);
    if (!w) throw new FilterError(`--filter: map '${map}' is not watched (watched: ${watches.map((x) => x.name).join(', ') || 'none'})`);
    if (!w.labels.includes(field)) throw new FilterError(`--filter: map '${map}' has no field '${field}' (fields: ${w.labels.join(', ')}; 'value' cannot be filtered)`);
    let re: RE2JS;
    try {
      re = RE2JS.compile(source);
    } catch (e) {
      throw new FilterError(`--filter ${map},${field}: invalid regex '${source}': ${(e as Error).message}`, { cause: e });
    }
    out.push({ map, field, re, source });
  }
  return out;
}

/** True when every filter of this map matches the labels. */
export function passes(filters: Filter[], map: string, labels: Record<string, string>): boolean {
  for (const f of filters) if (f.map === map && !f.re.test(labels[f.field] ?? '')) return false;
  return true;
}
