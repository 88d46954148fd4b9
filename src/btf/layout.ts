// How a C compiler lays BTF types out: a type's size, its natural alignment, and whether a
// struct/union must be `packed` to sit at its BTF offsets. One implementation behind both
// Btf.sizeof/alignof/isPacked (read through type objects) and the C dumper (read straight from the
// records' words: it asks about every type of vmlinux and must not build an object per type); each
// reads its types through the small TypeShape view below.
import { BtfError, BtfKind, KIND_NAMES } from './types.js';

/** Longest typedef/qualifier/array chain followed before a type is taken to refer to itself. */
export const MAX_RESOLVE_DEPTH = 32;

/** The fields the layout reads, by type id. */
export interface TypeShape {
  kind(id: number): BtfKind;
  /** The size word of INT, FLOAT, STRUCT, UNION, ENUM, ENUM64 and DATASEC. */
  size(id: number): number;
  /** What a typedef, qualifier, type tag or VAR refers to; an array's element type. */
  ref(id: number): number;
  /** An array's element count. */
  arrayLen(id: number): number;
  memberCount(id: number): number;
  memberType(id: number, i: number): number;
  memberBitOffset(id: number, i: number): number;
  /** 0 for a member that is not a bitfield. */
  memberBitfieldSize(id: number, i: number): number;
  /** The type's own name, for errors ('' when anonymous). */
  name(id: number): string;
}

export class TypeLayout {
  /** Memoized alignments (0 = not computed): struct alignment recursion is otherwise quadratic. */
  private readonly alignCache: Uint8Array;
  /** Memoized packing of composites at their natural alignment: 0 unknown, 1 no, 2 yes. */
  private readonly packedCache: Uint8Array;

  /** `count` ids are memoized; ids past it (a BTF still being built) are computed each time. */
  constructor(
    private readonly t: TypeShape,
    private readonly file: string,
    count: number,
  ) {
    this.alignCache = new Uint8Array(count);
    this.packedCache = new Uint8Array(count);
  }

  /** Size in bytes of a complete type. */
  sizeof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(this.file, `type ${id}: size depends on itself (a loop?)`);
    const t = this.t;
    const k = t.kind(id);
    switch (k) {
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Datasec:
        return t.size(id);
      case BtfKind.Ptr:
        return 8;
      case BtfKind.Array:
        return this.sizeof(t.ref(id), depth + 1) * t.arrayLen(id);
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        return this.sizeof(t.ref(id), depth + 1);
      default:
        throw new BtfError(this.file, `type ${id} (${KIND_NAMES[k]} '${t.name(id)}') has no size`);
    }
  }

  /** Natural alignment in bytes as a C compiler would see it; packed structs give 1. */
  alignof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(this.file, `type ${id}: alignment depends on itself (a loop?)`);
    const cached = this.alignCache[id];
    if (cached) return cached;
    const t = this.t;
    let result: number;
    switch (t.kind(id)) {
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64:
        result = Math.min(Math.max(t.size(id), 1), 8);
        break;
      case BtfKind.Ptr:
        result = 8;
        break;
      case BtfKind.Array:
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        result = this.alignof(t.ref(id), depth + 1);
        break;
      case BtfKind.Struct:
      case BtfKind.Union: {
        const align = this.memberAlign(id, depth);
        const packed = this.packedWith(id, align, depth);
        if (id < this.packedCache.length) this.packedCache[id] = packed ? 2 : 1;
        result = packed ? 1 : align;
        break;
      }
      default:
        result = 1;
    }
    if (id < this.alignCache.length) this.alignCache[id] = result;
    return result;
  }

  /** Whether a struct/union is packed (at its natural alignment). */
  isPacked(id: number): boolean {
    if (id < this.packedCache.length) {
      this.alignof(id);
      return this.packedCache[id] === 2;
    }
    return this.packedWith(id, this.memberAlign(id, 0), 0);
  }

  /** The largest alignment of a composite's members. */
  private memberAlign(id: number, depth: number): number {
    let align = 1;
    for (let i = 0, n = this.t.memberCount(id); i < n; i++) align = Math.max(align, this.alignof(this.t.memberType(id, i), depth + 1));
    return align;
  }

  /** A struct is packed when a member sits off its natural alignment, or the size is not a multiple of it. */
  private packedWith(id: number, align: number, depth: number): boolean {
    const t = this.t;
    if (t.size(id) % align !== 0) return true;
    for (let i = 0, n = t.memberCount(id); i < n; i++) {
      const type = t.memberType(id, i);
      const bitOffset = t.memberBitOffset(id, i);
      const bits = t.memberBitfieldSize(id, i);
      if (bits) {
        // A bitfield that straddles its own type's storage unit only happens in packed structs.
        const unit = this.sizeof(type, depth + 1) * 8;
        if (unit > 0 && (bitOffset % unit) + bits > unit) return true;
        continue;
      }
      if (bitOffset % (this.alignof(type, depth + 1) * 8) !== 0) return true;
    }
    return false;
  }
}
