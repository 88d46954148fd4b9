// The static linker's BTF checks (libbpf's linker.c): does an extern's type agree with its
// definition's (glob_sym_btf_matches), and does an extern map repeat its definition
// (parse_btf_map_def, map_defs_match)? StaticLinkError, the error of every linker pass, is
// defined here, below linker.ts and linker-elf.ts.
import { BtfKind, type BtfType } from '../btf/types.js';
import { BeeTsError } from '../errors.js';

/** A set of objects that cannot be linked (`gen object`): conflicting symbols, BTF or sections. */
export class StaticLinkError extends BeeTsError {
  constructor(message: string) {
    super('STATIC_LINK', message);
  }
}

const KIND = ['void', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const', 'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64'];

/**
 * glob_sym_btf_matches: do an extern's and a definition's types agree? Modifiers and typedefs
 * are skipped; behind a pointer only the shape counts (a FWD matches its STRUCT/UNION, members
 * are not compared); array sizes and argument names are ignored. Returns why not, or ''.
 */
export function btfMatches(exact: boolean, look1: (id: number) => BtfType | undefined, id1: number, look2: (id: number) => BtfType | undefined, id2: number): string {
  for (;;) {
    const t1 = skipMods(look1, id1);
    const t2 = skipMods(look2, id2);
    const fwd1 = t1.kind === BtfKind.Fwd;
    const fwd2 = t2.kind === BtfKind.Fwd;
    if (!exact && fwd1 !== fwd2) {
      if (t1.name !== t2.name) return `incompatible forward declaration names '${t1.name}' and '${t2.name}'`;
      const [f, c] = fwd1 ? [t1, t2] : [t2, t1];
      const union = f.kind === BtfKind.Fwd && f.union;
      if ((union && c.kind === BtfKind.Union) || (!union && c.kind === BtfKind.Struct)) return '';
      return `incompatible ${union ? 'union' : 'struct'} forward declaration and concrete kind ${KIND[c.kind]}`;
    }
    if (t1.kind !== t2.kind) return `incompatible BTF kinds ${KIND[t1.kind]} and ${KIND[t2.kind]}`;
    const named = [BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64, BtfKind.Fwd, BtfKind.Func, BtfKind.Var];
    if (named.includes(t1.kind) && t1.name !== t2.name) return `incompatible ${KIND[t1.kind]} names '${t1.name}' and '${t2.name}'`;
    switch (t1.kind) {
      case BtfKind.Void:
      case BtfKind.Fwd:
        return '';
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const s2 = (t2 as { size: number }).size;
        return t1.size === s2 ? '' : `incompatible ${KIND[t1.kind]} '${t1.name}' size ${t1.size} and ${s2}`;
      }
      case BtfKind.Ptr:
        exact = false;
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      case BtfKind.Array:
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      case BtfKind.Func:
      case BtfKind.Var: {
        const l2 = (t2 as { linkage: number }).linkage;
        if ((t1.linkage === 0) !== (l2 === 0)) return `incompatible ${KIND[t1.kind]} '${t1.name}' linkage`;
        id1 = t1.type;
        id2 = (t2 as { type: number }).type;
        continue;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        if (!exact) return '';
        const m2 = (t2 as typeof t1).members;
        if (t1.members.length !== m2.length) return `incompatible number of ${KIND[t1.kind]} fields ${t1.members.length} and ${m2.length}`;
        for (let i = 0; i < m2.length; i++) {
          const a = t1.members[i]!;
          const b = m2[i]!;
          if (a.name !== b.name) return `incompatible field #${i} names '${a.name}' and '${b.name}'`;
          if (a.bitOffset !== b.bitOffset || a.bitfieldSize !== b.bitfieldSize || t1.kflag !== (t2 as typeof t1).kflag) return `incompatible field #${i} ('${a.name}') offsets`;
          const why = btfMatches(exact, look1, a.type, look2, b.type);
          if (why) return why;
        }
        return '';
      }
      case BtfKind.FuncProto: {
        const p2 = (t2 as typeof t1).params;
        if (t1.params.length !== p2.length) return `incompatible number of func_proto params ${t1.params.length} and ${p2.length}`;
        for (let i = 0; i < p2.length; i++) {
          const why = btfMatches(exact, look1, t1.params[i]!.type, look2, p2[i]!.type);
          if (why) return why;
        }
        id1 = t1.returnType;
        id2 = (t2 as typeof t1).returnType;
        continue;
      }
      default:
        return `unsupported BTF kind ${KIND[t1.kind]}`;
    }
  }
}

interface MapDef {
  fields: Map<string, number>;
  keyType: number;
  valueType: number;
  inner?: MapDef;
}

const skipMods = (look: (id: number) => BtfType | undefined, id: number): BtfType => {
  for (let n = 0; n < 64; n++) {
    const t = id === 0 ? ({ kind: BtfKind.Void, id: 0, name: '' } as BtfType) : look(id);
    if (!t) throw new StaticLinkError(`BTF type id ${id} does not exist`);
    if (t.kind !== BtfKind.Typedef && t.kind !== BtfKind.Const && t.kind !== BtfKind.Volatile && t.kind !== BtfKind.Restrict && t.kind !== BtfKind.TypeTag) return t;
    id = (t as { type: number }).type;
  }
  throw new StaticLinkError(`BTF type id ${id}: modifier chain too long`);
};

/** parse_btf_map_def (strict), for comparing an extern map with its definition. */
function parseMapDef(name: string, look: (id: number) => BtfType | undefined, varType: number, sizeOf: (id: number) => number, inner = false): MapDef {
  const bad = (why: string): never => {
    throw new StaticLinkError(`global '${name}': invalid map definition: ${why}`);
  };
  const def = skipMods(look, varType);
  if (def.kind !== BtfKind.Struct) return bad('not a struct');
  const out: MapDef = { fields: new Map(), keyType: 0, valueType: 0 };
  const int = (type: number, field: string): number => {
    const p = skipMods(look, type);
    const arr = p.kind === BtfKind.Ptr ? skipMods(look, p.type) : undefined;
    if (arr?.kind !== BtfKind.Array) return bad(`'${field}' is not declared with __uint()`);
    return arr.nelems;
  };
  const size = (field: string, n: number) => {
    const had = out.fields.get(field);
    if (had && had !== n) bad(`conflicting ${field} ${had} and ${n}`);
    out.fields.set(field, n);
  };
  for (const m of def.members) {
    if (m.name === 'key' || m.name === 'value') {
      const p = look(m.type);
      if (p?.kind !== BtfKind.Ptr) return bad(`'${m.name}' is not declared with __type()`);
      size(`${m.name}_size`, sizeOf(p.type));
      if (m.name === 'key') out.keyType = p.type;
      else out.valueType = p.type;
    } else if (m.name === 'key_size' || m.name === 'value_size') size(m.name, int(m.type, m.name));
    else if (m.name === 'values') {
      if (inner) bad('nested map-in-map');
      size('value_size', 4);
      const arr = look(m.type);
      const ptr = arr?.kind === BtfKind.Array ? skipMods(look, arr.type) : undefined;
      const innerId = ptr?.kind === BtfKind.Ptr ? ptr.type : -1;
      const target = innerId >= 0 ? skipMods(look, innerId) : undefined;
      if (target?.kind === BtfKind.Struct) out.inner = parseMapDef(`${name}.inner`, look, innerId, sizeOf, true);
      else if (target?.kind !== BtfKind.FuncProto) bad("'values' must point to a map definition or a function prototype");
    } else if (['type', 'max_entries', 'map_flags', 'numa_node', 'pinning', 'map_extra'].includes(m.name)) out.fields.set(m.name, int(m.type, m.name));
    else bad(`unknown attribute '${m.name}'`);
  }
  return out;
}

/** map_defs_match: an extern map's definition must repeat the definition's attributes and key/value types. Returns why not, or ''. */
export function mapDefsMatch(name: string, look1: (id: number) => BtfType | undefined, t1: number, size1: (id: number) => number, look2: (id: number) => BtfType | undefined, t2: number, size2: (id: number) => number): string {
  const cmp = (a: MapDef, b: MapDef, n: string): string => {
    const f = (k: string) => (a.fields.get(k) ?? 0) === (b.fields.get(k) ?? 0);
    const why = (r: string) => `global '${n}': map ${r} mismatch`;
    if (!f('type')) return why('type');
    if (!f('key_size')) return why('key_size');
    if (!a.keyType !== !b.keyType || (a.keyType && btfMatches(true, look1, a.keyType, look2, b.keyType))) return why('key type');
    if (!f('value_size')) return why('value_size');
    if (!a.valueType !== !b.valueType || (a.valueType && btfMatches(true, look1, a.valueType, look2, b.valueType))) return why('value type');
    for (const k of ['max_entries', 'map_flags', 'numa_node', 'pinning']) if (!f(k)) return why(k);
    if (!a.inner !== !b.inner) return why('inner map');
    return a.inner && b.inner ? cmp(a.inner, b.inner, `${n}.inner`) : '';
  };
  return cmp(parseMapDef(name, look1, t1, size1), parseMapDef(name, look2, t2, size2), name);
}
