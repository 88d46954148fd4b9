// `btf dump ... format raw`: one line per type in bpftool's layout, so the two diff cleanly.
import type { Btf } from './btf.js';
import { BtfKind, type BtfType, INT_BOOL, INT_CHAR, INT_SIGNED, KIND_NAMES } from './types.js';

const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

function intEncoding(enc: number): string {
  if (enc & INT_SIGNED) return 'SIGNED';
  if (enc & INT_CHAR) return 'CHAR';
  if (enc & INT_BOOL) return 'BOOL';
  return enc === 0 ? '(none)' : '(unknown)';
}

const q = (name: string) => `'${name || '(anon)'}'`;

/** Lines describing one type, without a trailing newline. */
export function rawTypeLines(btf: Btf, t: BtfType): string {
  const head = `[${t.id}] ${KIND_NAMES[t.kind]} ${q(t.name)}`;
  switch (t.kind) {
    case BtfKind.Void:
      return head;
    case BtfKind.Int:
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${intEncoding(t.encoding)}`;
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return `${head} type_id=${t.type}`;
    case BtfKind.Array:
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case BtfKind.Struct:
    case BtfKind.Union: {
      let s = `${head} size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      let s = `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      const suffix = t.kind === BtfKind.Enum64 ? (t.signed ? 'LL' : 'ULL') : '';
      for (const v of t.values) s += `\n\t${q(v.name)} val=${v.value}${suffix}`;
      return s;
    }
    case BtfKind.Fwd:
      return `${head} fwd_kind=${t.union ? 'union' : 'struct'}`;
    case BtfKind.Func:
      return `${head} type_id=${t.type} linkage=${FUNC_LINKAGE[t.linkage] ?? '(unknown)'}`;
    case BtfKind.FuncProto: {
      let s = `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t${q(p.name)} type_id=${p.type}`;
      return s;
    }
    case BtfKind.Var:
      return `${head} type_id=${t.type}, linkage=${VAR_LINKAGE[t.linkage] ?? '(unknown)'}`;
    case BtfKind.Datasec: {
      let s = `${head} size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        const vt = btf.typeOrUndefined(v.type);
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt ? `${KIND_NAMES[vt.kind]} ${q(vt.name)}` : 'UNKN'})`;
      }
      return s;
    }
    case BtfKind.Float:
      return `${head} size=${t.size}`;
    case BtfKind.DeclTag:
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

/** The whole raw dump, types from `firstId` (split BTF prints only its own types, as bpftool does). */
export function dumpRaw(btf: Btf, write: (chunk: string) => void, fromId = btf.firstId): void {
  let buf = '';
  for (let id = fromId; id < btf.count; id++) {
    buf += rawTypeLines(btf, btf.peek(id)) + '\n';
    if (buf.length > 1 << 16) {
      write(buf);
      buf = '';
    }
  }
  if (buf) write(buf);
}

/** JSON form of one type, with keys as in `bpftool btf dump -j`. */
export function rawTypeJson(t: BtfType): Record<string, unknown> {
  const o: Record<string, unknown> = { id: t.id, kind: KIND_NAMES[t.kind], name: t.name || '(anon)' };
  switch (t.kind) {
    case BtfKind.Int:
      Object.assign(o, { size: t.size, bits_offset: t.bitOffset, nr_bits: t.bits, encoding: intEncoding(t.encoding) });
      break;
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      o.type_id = t.type;
      break;
    case BtfKind.Array:
      Object.assign(o, { type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems });
      break;
    case BtfKind.Struct:
    case BtfKind.Union:
      o.size = t.size;
      o.vlen = t.members.length;
      o.members = t.members.map((m) => ({
        name: m.name || '(anon)',
        type_id: m.type,
        bits_offset: m.bitOffset,
        ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}),
      }));
      break;
    case BtfKind.Enum:
    case BtfKind.Enum64:
      o.encoding = t.signed ? 'SIGNED' : 'UNSIGNED';
      o.size = t.size;
      o.vlen = t.values.length;
      o.values = t.values.map((v) => ({ name: v.name, val: Number(v.value) }));
      break;
    case BtfKind.Fwd:
      o.fwd_kind = t.union ? 'union' : 'struct';
      break;
    case BtfKind.Func:
      Object.assign(o, { type_id: t.type, linkage: FUNC_LINKAGE[t.linkage] ?? '(unknown)' });
      break;
    case BtfKind.FuncProto:
      o.ret_type_id = t.returnType;
      o.vlen = t.params.length;
      o.params = t.params.map((p) => ({ name: p.name || '(anon)', type_id: p.type }));
      break;
    case BtfKind.Var:
      Object.assign(o, { type_id: t.type, linkage: VAR_LINKAGE[t.linkage] ?? '(unknown)' });
      break;
    case BtfKind.Datasec:
      o.size = t.size;
      o.vlen = t.vars.length;
      o.vars = t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size }));
      break;
    case BtfKind.Float:
      o.size = t.size;
      break;
    case BtfKind.DeclTag:
      Object.assign(o, { type_id: t.type, component_idx: t.componentIdx });
      break;
    default:
      break;
  }
  return o;
}
