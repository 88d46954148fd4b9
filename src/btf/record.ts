// The BTF type record format, once (include/uapi/linux/btf.h): a record is a 3-word header (name
// offset, info = kind_flag << 31 | kind << 24 | vlen, size_or_type) and then the words its kind
// adds (fixed words, then vlen entries). Per kind: one table row here, read by the parser's scans
// (btf.ts), the explaining pass and the encoder's sizing (extraWords); and the header of a type
// object (recordInfo, recordSizeType), what the encoder writes and the dedup hashes and compares.
// The word-level readers (the scans, the dumps) take the header apart inline: `info & 0xffff`,
// `(info >>> 24) & 0x1f`, `info >>> 31`, in loops that run interpreted once over 100k+ records.
import { BtfError, BtfKind, type BtfType } from './types.js';

/** A known kind (a row below). */
export const K_VALID = 1;
/** The size_or_type word is a type id. */
export const K_REF = 2;
/** ... that must not be the type itself. */
export const K_NOSELF = 4;
/** vlen entries start with a name. */
export const K_ENTRY_NAME = 8;
/** vlen entries hold a type id (at word ENTRY_TYPE_AT), ... */
export const K_ENTRY_TYPE = 16;
/** ... which must not be the type itself. */
export const K_ENTRY_NOSELF = 32;

/** Per kind (index = kind number, 32 rows: the info word's kind has 5 bits): K_* flags, 0 for an unknown kind. */
export const KIND_FLAGS = new Uint8Array(32);
/** Words after the header before the vlen entries. */
export const KIND_FIXED = new Uint8Array(32);
/** Words per vlen entry. */
export const KIND_STRIDE = new Uint8Array(32);
/** Word of a vlen entry that holds its type id (K_ENTRY_TYPE). */
export const ENTRY_TYPE_AT = new Uint8Array(32);
/** Words of a record before its vlen entries (the 3-word header and the fixed words). */
export const KIND_HEAD = new Uint8Array(32);
{
  const ref = K_VALID | K_REF | K_NOSELF;
  const layout: [BtfKind, number, number, number, number][] = [
    // kind, flags, fixed words, entry words, entry type word
    [BtfKind.Int, K_VALID, 1, 0, 0],
    [BtfKind.Ptr, ref, 0, 0, 0],
    [BtfKind.Array, K_VALID, 3, 0, 0],
    [BtfKind.Struct, K_VALID | K_ENTRY_NAME | K_ENTRY_TYPE | K_ENTRY_NOSELF, 0, 3, 1],
    [BtfKind.Union, K_VALID | K_ENTRY_NAME | K_ENTRY_TYPE | K_ENTRY_NOSELF, 0, 3, 1],
    [BtfKind.Enum, K_VALID | K_ENTRY_NAME, 0, 2, 0],
    [BtfKind.Fwd, K_VALID, 0, 0, 0],
    [BtfKind.Typedef, ref, 0, 0, 0],
    [BtfKind.Volatile, ref, 0, 0, 0],
    [BtfKind.Const, ref, 0, 0, 0],
    [BtfKind.Restrict, ref, 0, 0, 0],
    [BtfKind.Func, ref, 0, 0, 0],
    [BtfKind.FuncProto, K_VALID | K_REF | K_ENTRY_NAME | K_ENTRY_TYPE, 0, 2, 1],
    [BtfKind.Var, ref, 1, 0, 0],
    [BtfKind.Datasec, K_VALID | K_ENTRY_TYPE, 0, 3, 0],
    [BtfKind.Float, K_VALID, 0, 0, 0],
    [BtfKind.DeclTag, ref, 1, 0, 0],
    [BtfKind.TypeTag, ref, 0, 0, 0],
    [BtfKind.Enum64, K_VALID | K_ENTRY_NAME, 0, 3, 0],
  ];
  for (const [k, f, fixed, stride, at] of layout) {
    KIND_FLAGS[k] = f;
    KIND_FIXED[k] = fixed;
    KIND_HEAD[k] = 3 + fixed;
    KIND_STRIDE[k] = stride;
    ENTRY_TYPE_AT[k] = at;
  }
}

/** Words after the 12-byte header of a type record (vlen entries for the kinds that have them), or -1 for an unknown kind. */
export function extraWords(kind: number, vlen: number): number {
  return KIND_FLAGS[kind] ? KIND_FIXED[kind]! + KIND_STRIDE[kind]! * vlen : -1;
}

/**
 * The info word of a type object's record: kind_flag << 31 | kind << 24 | vlen (FUNC: its linkage in vlen).
 * @throws {@link BtfError} when the type has more entries than vlen's 16 bits hold.
 */
export function recordInfo(t: BtfType): number {
  let vlen = 0;
  let kflag = false;
  switch (t.kind) {
    case BtfKind.Struct:
    case BtfKind.Union:
      vlen = t.members.length;
      kflag = t.kflag;
      break;
    case BtfKind.Enum:
    case BtfKind.Enum64:
      vlen = t.values.length;
      kflag = t.signed;
      break;
    case BtfKind.FuncProto:
      vlen = t.params.length;
      break;
    case BtfKind.Datasec:
      vlen = t.vars.length;
      break;
    case BtfKind.Func:
      vlen = t.linkage;
      break;
    case BtfKind.Fwd:
      kflag = t.union;
      break;
    case BtfKind.DeclTag:
      kflag = t.attribute;
      break;
    default:
      break;
  }
  if (vlen > 0xffff) throw new BtfError('BTF encoder', `type ${t.id} '${t.name}' has ${vlen} entries; a record holds at most 65535`);
  return ((kflag ? 0x80000000 : 0) | (t.kind << 24) | vlen) >>> 0;
}

/** The vlen of an info word. */
export const infoVlen = (info: number): number => info & 0xffff;
/** The kind_flag of an info word. */
export const infoKflag = (info: number): boolean => info >>> 31 !== 0;

/** The size_or_type word of a type object's record: a size for sized kinds, a type id for referring ones (FUNC_PROTO: its return type), else 0. */
export function recordSizeType(t: BtfType): number {
  switch (t.kind) {
    case BtfKind.Int:
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Enum:
    case BtfKind.Enum64:
    case BtfKind.Datasec:
    case BtfKind.Float:
      return t.size;
    case BtfKind.FuncProto:
      return t.returnType;
    case BtfKind.Array:
      return 0;
    default:
      // PTR, TYPEDEF, the qualifiers, TYPE_TAG, FUNC, VAR, DECL_TAG (K_REF above); FWD and void: 0.
      return 'type' in t ? t.type : 0;
  }
}

/** The record's size in bytes for a type object: header and the words its kind and vlen add (0 extra for void, which is never written). */
export function recordBytes(t: BtfType): number {
  return 12 + 4 * Math.max(0, extraWords(t.kind, infoVlen(recordInfo(t))));
}
