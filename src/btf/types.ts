// BTF type model: plain data, one object per type id. Layouts follow the kernel's
// include/uapi/linux/btf.h (kind numbers, INT encoding bits, member offset packing).
import { BeeTsError } from '../errors.js';

export class BtfError extends BeeTsError {
  constructor(
    readonly file: string,
    readonly defect: string,
    options?: ErrorOptions,
  ) {
    super('BTF_MALFORMED', `${file}: malformed BTF: ${defect}`, options);
  }
}

export enum BtfKind {
  Void = 0,
  Int = 1,
  Ptr = 2,
  Array = 3,
  Struct = 4,
  Union = 5,
  Enum = 6,
  Fwd = 7,
  Typedef = 8,
  Volatile = 9,
  Const = 10,
  Restrict = 11,
  Func = 12,
  FuncProto = 13,
  Var = 14,
  Datasec = 15,
  Float = 16,
  DeclTag = 17,
  TypeTag = 18,
  Enum64 = 19,
}

/** Kind names as bpftool prints them in raw dumps. */
export const KIND_NAMES: Record<BtfKind, string> = {
  [BtfKind.Void]: 'UNKN',
  [BtfKind.Int]: 'INT',
  [BtfKind.Ptr]: 'PTR',
  [BtfKind.Array]: 'ARRAY',
  [BtfKind.Struct]: 'STRUCT',
  [BtfKind.Union]: 'UNION',
  [BtfKind.Enum]: 'ENUM',
  [BtfKind.Fwd]: 'FWD',
  [BtfKind.Typedef]: 'TYPEDEF',
  [BtfKind.Volatile]: 'VOLATILE',
  [BtfKind.Const]: 'CONST',
  [BtfKind.Restrict]: 'RESTRICT',
  [BtfKind.Func]: 'FUNC',
  [BtfKind.FuncProto]: 'FUNC_PROTO',
  [BtfKind.Var]: 'VAR',
  [BtfKind.Datasec]: 'DATASEC',
  [BtfKind.Float]: 'FLOAT',
  [BtfKind.DeclTag]: 'DECL_TAG',
  [BtfKind.TypeTag]: 'TYPE_TAG',
  [BtfKind.Enum64]: 'ENUM64',
};

export const INT_SIGNED = 1;
export const INT_CHAR = 2;
export const INT_BOOL = 4;

export const FUNC_STATIC = 0;
export const FUNC_GLOBAL = 1;
export const FUNC_EXTERN = 2;
export const VAR_STATIC = 0;
export const VAR_GLOBAL = 1;
export const VAR_EXTERN = 2;

/** What every BTF type has: its id and name (empty for anonymous types). */
export interface Named {
  id: number;
  name: string;
}

export interface VoidType extends Named { kind: BtfKind.Void }
export interface IntType extends Named {
  kind: BtfKind.Int;
  size: number;
  /** INT_SIGNED | INT_CHAR | INT_BOOL */
  encoding: number;
  bitOffset: number;
  bits: number;
}
export interface RefType extends Named {
  kind: BtfKind.Ptr | BtfKind.Typedef | BtfKind.Volatile | BtfKind.Const | BtfKind.Restrict | BtfKind.TypeTag;
  type: number;
}
export interface ArrayType extends Named {
  kind: BtfKind.Array;
  type: number;
  indexType: number;
  nelems: number;
}
export interface Member {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** 0 when the member is not a bitfield. */
  bitfieldSize: number;
}
export interface CompositeType extends Named {
  kind: BtfKind.Struct | BtfKind.Union;
  size: number;
  /** kind_flag: member offsets carry bitfield sizes. */
  kflag: boolean;
  members: Member[];
}
export interface EnumValue {
  name: string;
  value: bigint;
}
export interface EnumType extends Named {
  kind: BtfKind.Enum | BtfKind.Enum64;
  size: number;
  signed: boolean;
  values: EnumValue[];
}
export interface FwdType extends Named {
  kind: BtfKind.Fwd;
  /** kind_flag: a forward declaration of a union rather than a struct. */
  union: boolean;
}
export interface FuncType extends Named {
  kind: BtfKind.Func;
  type: number;
  linkage: number;
}
export interface Param {
  name: string;
  type: number;
}
export interface FuncProtoType extends Named {
  kind: BtfKind.FuncProto;
  returnType: number;
  params: Param[];
}
export interface VarType extends Named {
  kind: BtfKind.Var;
  type: number;
  linkage: number;
}
export interface VarSecinfo {
  type: number;
  offset: number;
  size: number;
}
export interface DatasecType extends Named {
  kind: BtfKind.Datasec;
  size: number;
  vars: VarSecinfo[];
}
export interface FloatType extends Named {
  kind: BtfKind.Float;
  size: number;
}
export interface DeclTagType extends Named {
  kind: BtfKind.DeclTag;
  type: number;
  /** -1 for the type itself, else the member or parameter index. */
  componentIdx: number;
  /** kind_flag: an attribute rather than a btf_decl_tag. */
  attribute: boolean;
}

export type BtfType =
  | VoidType
  | IntType
  | RefType
  | ArrayType
  | CompositeType
  | EnumType
  | FwdType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;

/**
 * The variant of BtfType whose kind admits `K`: CompositeType for Struct and for Union, RefType
 * for Ptr, Typedef and the modifiers. (`Extract<BtfType, { kind: K }>` is `never` for those, since
 * their kind field is a union of kinds.)
 */
export type BtfTypeOfKind<K extends BtfKind> = BtfType extends infer T ? (T extends { kind: infer TK } ? (K extends TK ? T : never) : never) : never;

export function isComposite(t: BtfType): t is CompositeType {
  return t.kind === BtfKind.Struct || t.kind === BtfKind.Union;
}
export function isEnum(t: BtfType): t is EnumType {
  return t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64;
}
export function isQualifier(t: BtfType): t is RefType {
  return t.kind === BtfKind.Const || t.kind === BtfKind.Volatile || t.kind === BtfKind.Restrict || t.kind === BtfKind.TypeTag;
}
/** PTR, TYPEDEF, the qualifiers and TYPE_TAG (RefType's kinds): records with nothing but a type id after the name. */
export function isRefKind(k: BtfKind): k is RefType['kind'] {
  return k === BtfKind.Ptr || k === BtfKind.Typedef || k === BtfKind.Const || k === BtfKind.Volatile || k === BtfKind.Restrict || k === BtfKind.TypeTag;
}

/** A copy of `t` with every type id it refers to passed through `f` (libbpf's btf_type_visit_type_ids). */
export function withTypeIds(t: BtfType, f: (id: number) => number): BtfType {
  switch (t.kind) {
    case BtfKind.Array:
      return { ...t, type: f(t.type), indexType: f(t.indexType) };
    case BtfKind.Struct:
    case BtfKind.Union:
      return { ...t, members: t.members.map((m) => ({ ...m, type: f(m.type) })) };
    case BtfKind.FuncProto:
      return { ...t, returnType: f(t.returnType), params: t.params.map((p) => ({ ...p, type: f(p.type) })) };
    case BtfKind.Datasec:
      return { ...t, vars: t.vars.map((v) => ({ ...v, type: f(v.type) })) };
    default:
      // PTR, TYPEDEF, the qualifiers, TYPE_TAG, FUNC, VAR, DECL_TAG refer to one type; INT, ENUM, FWD, FLOAT to none.
      return 'type' in t ? { ...t, type: f(t.type) } : { ...t };
  }
}
