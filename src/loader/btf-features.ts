// BTF feature probes: which BTF kinds this kernel accepts. The blobs are encoded here (the loader
// knows the BTF encoder); syscall/features.ts loads each once and caches the answer.
import { encodeBtf } from '../btf/encode.js';
import { BtfKind, type BtfType } from '../btf/types.js';
import { btfProbe } from '../syscall/features.js';

const probe = (key: string, types: BtfType[]): boolean => btfProbe(key, () => encodeBtf(types));

const INT: BtfType = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };

/** A function (static: linkage 0, global: 1) of type `int (void)`. */
function probeFunc(name: string, linkage: number): boolean {
  return probe(name, [
    { kind: BtfKind.Void, id: 0, name: '' },
    INT,
    { kind: BtfKind.FuncProto, id: 2, name: '', returnType: 1, params: [] },
    { kind: BtfKind.Func, id: 3, name: 'f', type: 2, linkage },
  ]);
}

/** Which BTF kinds this kernel accepts (object BTF is sanitized for the missing ones). */
export const btfFeatures = {
  base: () => probe('base', [{ kind: BtfKind.Void, id: 0, name: '' }, INT]),
  func: () => probeFunc('func', 0),
  funcGlobal: () => probeFunc('func_global', 1),
  datasec: () =>
    probe('datasec', [
      { kind: BtfKind.Void, id: 0, name: '' },
      INT,
      { kind: BtfKind.Var, id: 2, name: 'x', type: 1, linkage: 1 },
      { kind: BtfKind.Datasec, id: 3, name: '.data', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
    ]),
  float: () => probe('float', [{ kind: BtfKind.Void, id: 0, name: '' }, { kind: BtfKind.Float, id: 1, name: 'float', size: 4 }]),
  declTag: () =>
    probe('decl_tag', [
      { kind: BtfKind.Void, id: 0, name: '' },
      INT,
      { kind: BtfKind.Var, id: 2, name: 'x', type: 1, linkage: 0 },
      { kind: BtfKind.DeclTag, id: 3, name: 'tag', type: 2, componentIdx: -1, attribute: false },
    ]),
  typeTag: () =>
    probe('type_tag', [
      { kind: BtfKind.Void, id: 0, name: '' },
      INT,
      { kind: BtfKind.TypeTag, id: 2, name: 'tag', type: 1 },
      { kind: BtfKind.Ptr, id: 3, name: '', type: 2 },
    ]),
  enum64: () =>
    probe('enum64', [{ kind: BtfKind.Void, id: 0, name: '' }, { kind: BtfKind.Enum64, id: 1, name: 'e', size: 8, signed: false, values: [{ name: 'A', value: 1n }] }]),
};
