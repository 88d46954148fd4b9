// BumbleBee's map roles (shared notes §1): how a probe marks a map for output. A role comes from
// the map's name prefix (`print_`, `counter_`, `gauge_`, `hist_`; bee v0.0.15+) or from the
// `.maps.<role>` section it is declared in (bee v0.0.14 and earlier). The role is bee's reading of
// what the object spec keeps (the map's name and section), not part of the spec: the loader reads
// `.maps.<role>` sections like `.maps` and knows nothing of roles, so a plain library user loads
// any object, and the disagreement of a prefix with a suffix is refused here, where bee uses the
// object (`bee-ts run`, `describe`).
import { type MapSpec, type ObjectSpec, SpecError } from '../loader/spec.js';

/** A bee map role: what `bee-ts run` makes of the map (log lines, a counter, a gauge, a histogram). */
export type MapRole = 'print' | 'counter' | 'gauge' | 'hist';

/** Every role, in bee's order. */
const MAP_ROLES: readonly MapRole[] = ['print', 'counter', 'gauge', 'hist'];

/** A map's bee role and the convention that gave it. */
export interface BeeRole {
  /** What `bee-ts run` makes of the map. */
  role: MapRole;
  /** `prefix`: from the map's name (`print_events`); `suffix`: from its section (`.maps.print`). */
  source: 'prefix' | 'suffix';
}

/** A `.maps.<suffix>` section name. */
const ROLE_SECTION = /^\.maps\.(.+)$/;

/** The role a map name's prefix gives (`counter_x` → `counter`), if any. */
function roleFromName(name: string): MapRole | undefined {
  for (const r of MAP_ROLES) if (name.startsWith(`${r}_`)) return r;
  return undefined;
}

/** The role a `.maps.<suffix>` section gives; bee's legacy convention looked for the kind anywhere in the suffix. */
function roleFromSection(section: string): MapRole | undefined {
  const suffix = ROLE_SECTION.exec(section)?.[1];
  if (!suffix) return undefined;
  for (const r of MAP_ROLES) if (suffix.includes(r)) return r;
  return undefined;
}

/**
 * The bee role of one map of the object file `file` (named in the error), or `undefined` for a map
 * bee does not watch. Only maps the object declares get one: BTF maps (`.maps`, `.maps.<role>`) by
 * prefix or suffix, legacy `maps` definitions by prefix; global data, `.kconfig` and struct_ops
 * maps never do.
 *
 * @throws {@link SpecError} (code `SPEC_INVALID`) when the name's prefix and the section's suffix name different roles.
 */
export function mapBeeRole(map: MapSpec, file = '<object>'): BeeRole | undefined {
  const declared = map.source === 'legacy' || (map.source === 'btf' && (map.section === '.maps' || ROLE_SECTION.test(map.section)));
  if (!declared) return undefined;
  const prefix = roleFromName(map.name);
  const suffix = map.source === 'btf' ? roleFromSection(map.section) : undefined;
  if (prefix && suffix && prefix !== suffix)
    throw new SpecError(file, `map '${map.name}'`, `name prefix says '${prefix}' but section ${map.section} says '${suffix}'; use one convention`);
  if (prefix) return { role: prefix, source: 'prefix' };
  if (suffix) return { role: suffix, source: 'suffix' };
  return undefined;
}

/**
 * The bee role of every marked map of an object, by map name, in the object's map order; maps
 * with no role are left out.
 *
 * @throws {@link SpecError} (code `SPEC_INVALID`) for the first map whose name prefix and section suffix disagree.
 */
export function beeRoles(spec: ObjectSpec): Map<string, BeeRole> {
  const out = new Map<string, BeeRole>();
  for (const m of spec.maps) {
    const r = mapBeeRole(m, spec.file);
    if (r) out.set(m.name, r);
  }
  return out;
}
