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
  const rec = btf.records();
  let buf = '';
  for (let id = fromId; id < btf.count; id++) {
    buf += (rec && id >= btf.firstId ? recordLines(btf, rec, id) : rawTypeLines(btf, btf.peek(id))) + '\n';
    if (buf.length > 1 << 16) {
      write(buf);
      buf = '';
    }
  }
  if (buf) write(buf);
}

/** rawTypeLines written straight from a record's words (no type object). */
function recordLines(btf: Btf, rec: NonNullable<ReturnType<Btf['records']>>, id: number): string {
  const w = rec.words;
  let p = rec.offs[id - btf.firstId]!;
  const kind = rec.kinds[id - btf.firstId]! as BtfKind;
  const info = w[p + 1]!;
  const st = w[p + 2]!;
  const vlen = info & 0xffff;
  const kflag = info >>> 31 !== 0;
  const head = `[${id}] ${KIND_NAMES[kind]} ${q(rec.name(w[p]!))}`;
  p += 3;
  switch (kind) {
    case BtfKind.Int: {
      const v = w[p]!;
      return `${head} size=${st} bits_offset=${(v >>> 16) & 0xff} nr_bits=${v & 0xff} encoding=${intEncoding((v >>> 24) & 0xf)}`;
    }
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
      return `${head} type_id=${st}`;
    case BtfKind.Array:
      return `${head} type_id=${w[p]} index_type_id=${w[p + 1]} nr_elems=${w[p + 2]}`;
    case BtfKind.Struct:
    case BtfKind.Union: {
      let s = `${head} size=${st} vlen=${vlen}`;
      for (let k = 0; k < vlen; k++, p += 3) {
        const off = w[p + 2]!;
        s += `\n\t${q(rec.name(w[p]!))} type_id=${w[p + 1]} bits_offset=${kflag ? off & 0xffffff : off}`;
        if (kflag && off >>> 24) s += ` bitfield_size=${off >>> 24}`;
      }
      return s;
    }
    case BtfKind.Enum: {
      let s = `${head} encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${st} vlen=${vlen}`;
      for (let k = 0; k < vlen; k++, p += 2) s += `\n\t${q(rec.name(w[p]!))} val=${kflag ? w[p + 1]! | 0 : w[p + 1]!}`;
      return s;
    }
    case BtfKind.Enum64: {
      let s = `${head} encoding=${kflag ? 'SIGNED' : 'UNSIGNED'} size=${st} vlen=${vlen}`;
      const suffix = kflag ? 'LL' : 'ULL';
      for (let k = 0; k < vlen; k++, p += 3) {
        const lo = w[p + 1]!;
        const hi = w[p + 2]!;
        let v: bigint | number = hi === 0 ? lo : (BigInt(hi) << 32n) | BigInt(lo);
        if (kflag && hi !== 0) v = BigInt.asIntN(64, v as bigint);
        s += `\n\t${q(rec.name(w[p]!))} val=${v}${suffix}`;
      }
      return s;
    }
    case BtfKind.Fwd:
      return `${head} fwd_kind=${kflag ? 'union' : 'struct'}`;
    case BtfKind.Func:
      return `${head} type_id=${st} linkage=${FUNC_LINKAGE[vlen] ?? '(unknown)'}`;
    case BtfKind.FuncProto: {
      let s = `${head} ret_type_id=${st} vlen=${vlen}`;
      for (let k = 0; k < vlen; k++, p += 2) s += `\n\t${q(rec.name(w[p]!))} type_id=${w[p + 1]}`;
      return s;
    }
    case BtfKind.Var:
      return `${head} type_id=${st}, linkage=${VAR_LINKAGE[w[p]!] ?? '(unknown)'}`;
    case BtfKind.Datasec: {
      let s = `${head} size=${st} vlen=${vlen}`;
      for (let k = 0; k < vlen; k++, p += 3) {
        const t = w[p]!;
        s += `\n\ttype_id=${t} offset=${w[p + 1]} size=${w[p + 2]} (${t < btf.count ? `${KIND_NAMES[btf.kindOf(t)]} ${q(btf.nameOf(t))}` : 'UNKN'})`;
      }
      return s;
    }
    case BtfKind.Float:
      return `${head} size=${st}`;
    case BtfKind.DeclTag:
      return `${head} type_id=${st} component_idx=${w[p]! | 0}`;
    default:
      return rawTypeLines(btf, btf.peek(id));
  }
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
