// Map specs: a map as the object file declares it, plain data and kernel-free. The loader's
// parser (src/loader/spec.ts) produces them; src/maps creates maps from them.

export interface MapSpec {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode?: number;
  pinning: number;
  mapExtra: bigint;
  keyTypeId?: number;
  valueTypeId?: number;
  /** ELF section the definition came from (`.maps`, `.maps.print`, `maps`, `.rodata`, ...). */
  section: string;
  /** `kconfig`: the `<obj>.kconfig` map libbpf makes for __kconfig externs (filled at load). */
  source: 'btf' | 'legacy' | 'data' | 'kconfig';
  /** Template for map-in-map outer maps. */
  inner?: MapSpec;
  /** Initial slot contents of prog arrays / map-in-map: slot index → program or map name. */
  initSlots?: { index: number; symbol: string }[];
  /** Global data: initial contents (zeros for .bss). */
  data?: Uint8Array;
  dataSection?: DataSectionSpec;
  /** struct_ops maps (`.struct_ops`, `.struct_ops.link`): the local struct and the programs it names. */
  structOps?: StructOpsSpec;
}

/** A struct_ops variable: the kernel struct it fills, in the object's own (local) layout. */
export interface StructOpsSpec {
  /** The local struct's name: the kernel struct it stands for. */
  typeName: string;
  /** Local BTF type id of the struct. */
  typeId: number;
  /** The variable's initial bytes (local layout). */
  data: Uint8Array;
  /** Function-pointer members set to a program: member name → program name. */
  programs: Record<string, string>;
  /** Declared in `.struct_ops.link`. */
  link: boolean;
}

export interface VariableSpec {
  name: string;
  typeId: number;
  offset: number;
  size: number;
  /** static (or hidden) vs global visibility; only globals are settable by name through the API. */
  global: boolean;
}

export type DataKind = 'data' | 'bss' | 'rodata' | 'kconfig';

export interface DataSectionSpec {
  section: string;
  kind: DataKind;
  /** The map name libbpf gives it: `<obj8>.rodata`, or the custom section name, at most 15 chars. */
  mapName: string;
  size: number;
  readonly: boolean;
  data: Uint8Array;
  variables: VariableSpec[];
  datasecId?: number;
}
