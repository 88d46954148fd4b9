// BTFgen's marking rules on small hand-made BTF (kernel-free; the comparison with bpftool on the
// kernel's selftests is in test/kernel/core-reloc-compat.test.ts), its refusals, and batch's
// line splitter (bpftool's make_args).
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { type BtfExt, type CoreRelo, CoreRelocKind } from '../src/btf/ext.js';
import { BtfKind, type BtfType, type CompositeType } from '../src/btf/types.js';
import { minCoreBtf } from '../src/loader/btfgen.js';
import { splitBatchLine } from '../src/cli/batch.js';

const VOID: BtfType = { kind: BtfKind.Void, id: 0, name: '' };
const int = (id: number, name = 'int'): BtfType => ({ kind: BtfKind.Int, id, name, size: 4, encoding: 1, bitOffset: 0, bits: 32 });
const member = (name: string, type: number, byte: number, bitfieldSize = 0) => ({ name, type, bitOffset: byte * 8, bitfieldSize });
const struct = (id: number, name: string, size: number, members: ReturnType<typeof member>[], kflag = false): BtfType => ({ kind: BtfKind.Struct, id, name, size, kflag, members });
const btfOf = (types: BtfType[], file: string) => parseBtf(encodeBtf([VOID, ...types]), { file });

// The "kernel": 1 int, 2 struct task {int pid; int tgid; struct task *parent; int flags:3}, 3 ptr → 2,
// 4 enum state {A, B}, 5 typedef task_t → 2, 6 long, 7 struct unused.
const target = btfOf(
  [
    int(1),
    struct(2, 'task', 16, [member('pid', 1, 0), member('tgid', 1, 4), member('parent', 3, 8), { name: 'flags', type: 1, bitOffset: 0, bitfieldSize: 3 }], true),
    { kind: BtfKind.Ptr, id: 3, name: '', type: 2 },
    { kind: BtfKind.Enum, id: 4, name: 'state', size: 4, signed: false, values: [{ name: 'A', value: 0n }, { name: 'B', value: 1n }] },
    { kind: BtfKind.Typedef, id: 5, name: 'task_t', type: 2 },
    { kind: BtfKind.Int, id: 6, name: 'long', size: 8, encoding: 1, bitOffset: 0, bits: 64 },
    struct(7, 'unused', 4, [member('x', 1, 0)]),
  ],
  'target',
);

// The object's local view: 1 int, 2 struct task___local {int tgid; struct task___local *parent;}, 3 ptr,
// 4 enum state {B}, 5 struct nothere (not in the target).
const local = btfOf(
  [
    int(1),
    struct(2, 'task___local', 16, [member('tgid', 1, 0), member('parent', 3, 8)]),
    { kind: BtfKind.Ptr, id: 3, name: '', type: 2 },
    { kind: BtfKind.Enum, id: 4, name: 'state', size: 4, signed: false, values: [{ name: 'B', value: 1n }] },
    struct(5, 'nothere', 4, [member('x', 1, 0)]),
  ],
  'obj.o',
);

const obj = (relos: Omit<CoreRelo, 'insnOff'>[]) => {
  const ext: BtfExt = { funcInfoRecSize: 8, lineInfoRecSize: 16, funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map([['tp/x', relos.map((r, i) => ({ ...r, insnOff: i * 8 }))]]) };
  return { file: 'obj.o', btf: local, ext };
};
const minimized = (relos: Omit<CoreRelo, 'insnOff'>[]) => parseBtf(minCoreBtf(target, [obj(relos)]), { file: 'min' });

describe('gen min_core_btf marking', () => {
  it('a field relocation keeps the path: the struct with only the member read, and its type', () => {
    const b = minimized([{ typeId: 2, accessStr: '0:0', kind: CoreRelocKind.FieldByteOffset }]);
    expect(b.types.map((t) => [t.kind, t.name])).toEqual([
      [BtfKind.Void, ''],
      [BtfKind.Int, 'int'],
      [BtfKind.Struct, 'task'],
    ]);
    const task = b.typeById(2) as CompositeType;
    // tgid, at its target offset, no kind_flag once the bitfield is gone.
    expect(task.members).toEqual([{ name: 'tgid', type: 1, bitOffset: 32, bitfieldSize: 0 }]);
    expect(task.kflag).toBe(false);
    expect(task.size).toBe(16);
  });

  it('a pointer member is kept, pointing to void unless its target is marked too', () => {
    const b = minimized([{ typeId: 2, accessStr: '0:1', kind: CoreRelocKind.FieldByteOffset }]);
    const task = b.typeById(b.findIds('task', BtfKind.Struct)[0]!) as CompositeType;
    expect(task.members.map((m) => m.name)).toEqual(['parent']);
    const ptr = b.typeById(task.members[0]!.type);
    // The pointer's target (task) is marked by the root, so it is kept and renumbered.
    expect(ptr.kind).toBe(BtfKind.Ptr);
    expect((ptr as { type: number }).type).toBe(task.id);
  });

  it('type relocations keep the type without members; enum relocations the whole enum; unused types go', () => {
    const b = minimized([
      { typeId: 2, accessStr: '0', kind: CoreRelocKind.TypeExists },
      { typeId: 4, accessStr: '0', kind: CoreRelocKind.EnumvalValue },
    ]);
    expect(b.types.map((t) => t.name)).toEqual(['', 'task', 'state']);
    expect((b.typeById(1) as CompositeType).members).toEqual([]);
    expect((b.typeById(2) as { values: unknown[] }).values).toHaveLength(2);
  });

  it('type_matches keeps every member of the struct, and stops at structs behind pointers', () => {
    const b = minimized([{ typeId: 2, accessStr: '0', kind: CoreRelocKind.TypeMatches }]);
    // task___local's members are a subset of task's, so it matches: all four members are kept,
    // and `parent`'s pointer, whose struct (behind it) is not walked again.
    expect(b.types.map((t) => [t.kind, t.name])).toEqual([
      [BtfKind.Void, ''],
      [BtfKind.Int, 'int'],
      [BtfKind.Struct, 'task'],
      [BtfKind.Ptr, ''],
    ]);
    const task = b.typeById(2) as CompositeType;
    expect(task.members.map((m) => m.name)).toEqual(['pid', 'tgid', 'parent', 'flags']);
    // The bitfield keeps its width, so kind_flag stays.
    expect(task.kflag).toBe(true);
    expect(task.members[3]!.bitfieldSize).toBe(3);
  });

  it('no candidate: nothing kept; a relocation against a hostile type graph fails clearly', () => {
    expect(minimized([{ typeId: 5, accessStr: '0:0', kind: CoreRelocKind.FieldExists }]).types).toHaveLength(1);
    // bpftool's refusal of kinds its marking does not know: a type_tag behind a pointer that a
    // type relocation follows.
    const tagged = btfOf(
      [int(1), struct(2, 's', 4, [member('x', 1, 0)]), { kind: BtfKind.TypeTag, id: 3, name: 'rcu', type: 2 }, { kind: BtfKind.Ptr, id: 4, name: '', type: 3 }, { kind: BtfKind.Typedef, id: 5, name: 'sp', type: 4 }],
      'tagged',
    );
    const lb = btfOf([int(1), struct(2, 's', 4, [member('x', 1, 0)]), { kind: BtfKind.Ptr, id: 3, name: '', type: 2 }, { kind: BtfKind.Typedef, id: 4, name: 'sp', type: 3 }], 'obj.o');
    const ext: BtfExt = { funcInfoRecSize: 8, lineInfoRecSize: 16, funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map([['x', [{ insnOff: 0, typeId: 4, accessStr: '0', kind: CoreRelocKind.TypeSize }]]]) };
    expect(() => minCoreBtf(tagged, [{ file: 'obj.o', btf: lb, ext }])).toThrow('unsupported kind: TYPE_TAG (3)');
  });
});

describe("batch's line splitter (bpftool's make_args)", () => {
  it('blanks, quotes, quoted words glued to the next, UTF-8', () => {
    expect(splitBatchLine('  prog\tshow  id 1\r\n', 0)).toEqual(['prog', 'show', 'id', '1']);
    expect(splitBatchLine(`map "a b"'c d' e`, 0)).toEqual(['map', 'a b', 'c d', 'e']);
    expect(splitBatchLine(`x "q"r`, 0)).toEqual(['x', 'q', 'r']);
    expect(splitBatchLine(`it's`, 0)).toEqual([`it's`]);
    expect(splitBatchLine(Buffer.from('pin é', 'utf8').toString('latin1'), 0)).toEqual(['pin', 'é']);
    expect(splitBatchLine('   ', 0)).toEqual([]);
    expect(() => splitBatchLine(`a "b`, 3)).toThrow('unterminated quoted string in command 3');
    expect(() => splitBatchLine('a '.repeat(4096), 7)).toThrow('too many arguments to command 7');
    expect(splitBatchLine('a '.repeat(4094), 7)).toHaveLength(4094);
  });
});
