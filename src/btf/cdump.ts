// BTF → C declarations (a vmlinux.h equivalent).
//
// Two phases, the way a C compiler needs them:
//  1. order: a type used *by value* must be complete before its user, so walk every type
//     depth-first and queue named definitions after what they embed. Pointers break the
//     dependency (a forward declaration is enough), except for anonymous types, which are
//     defined inline wherever they appear.
//  2. emit: write queued definitions in order. While writing one, any typedef it names that
//     was not queued (it only reaches named structs through pointers) is written first, and
//     any struct/union it names that is not yet declared gets a forward declaration.
// Layout is reproduced exactly: explicit padding as anonymous bitfields wherever the natural
// C layout would differ from the BTF offsets, `packed` where members sit off their alignment.
// One file on purpose (over 500 lines; LONG_FILES in test/architecture.test.ts): the two phases
// share the dumper's state (what is queued, declared and written, the name tables), the emit
// half is one recursive declarator writer, and bpftool's output that the tests compare against
// is produced by both. Layout (sizes, alignment, packing) is ./layout.ts, shared with Btf.
import { isAscii } from 'node:buffer';
import type { Btf } from './btf.js';
import { type FlatBtf, flatBtf } from './flat.js';
import { type TypeShape, TypeLayout } from './layout.js';
import { type CDumpItems, type CDumpMembers, ITEMS_POS, ITEMS_STOP, MEMBERS_BUDGET, MEMBERS_CUR, MEMBERS_LEN, PAD_COUNTER, prepareCDumpWasm } from './order-wasm.js';
import { type ByteSink, TextOut } from './textout.js';
import { BtfError, BtfKind, INT_BOOL } from './types.js';

export interface CDumpOptions {
  /** Wrap in an include guard and the preserve_access_index pragma, as bpftool does. Default true. */
  header?: boolean;
  guard?: string;
  /** Append `extern ... __weak __ksym;` prototypes of the kernel's kfuncs, as bpftool 7.3+ does. Default: with `header`. */
  kfuncs?: boolean;
}

/** The DECL_TAG the kernel puts on kfuncs (bpftool's KFUNC_DECL_TAG) and on fastcall ones. */
const KFUNC_TAG = 'bpf_kfunc';
const FASTCALL_TAG = 'bpf_fastcall';

const enum Order {
  None = 0,
  Ordering = 1,
  Ordered = 2,
}

const MAX_DECL_DEPTH = 64;
/** Declarator nodes expanded for one top-level item; real kernels need a few thousand at most. */
const MAX_DECL_NODES = 200_000;
/** Gaps above this many bytes become one named array instead of a run of `long: 64;` lines. */
const MAX_BITFIELD_PADDING_BYTES = 1024;

// Type access below is straight from the records' words (./flat.ts), no type object is built;
// alignments, packing and sizes are memoized per id.
const W_TYPE = 2;

export class CDumper {
  private readonly f: FlatBtf;
  private readonly w: Uint32Array;
  private readonly offs: Int32Array;
  private readonly kinds: Uint8Array;
  private readonly count: number;
  /** The string space as one latin1 string (names are sliced from it; made on first use: the WebAssembly writes most). */
  private textMemo?: string;
  private get text(): string {
    return (this.textMemo ??= stringText(this.f));
  }
  /** Whether the string space is all ASCII. */
  private readonly ascii: boolean;
  /** The string space's bytes as a Buffer, for the names str() decodes from them (made on first use). */
  private stringBytes?: Buffer;
  private readonly order: Uint8Array;
  /** 0 none, 1 forward-declared, 2 defined / emitted, 3 being emitted. */
  private emitState: Uint8Array;
  /** 1 once `struct X;` or the definition of X has been written. */
  private declared: Uint8Array;
  private readonly queue: number[] = [];
  /** Each type's C name once given (a Map: a dump of every type gives few in JavaScript). */
  private readonly names = new Map<number, string>();
  /** Each name's count in its namespace, once given (0: not yet; see nameN). */
  private counts: Int32Array;
  /** Enumerator counts per enum id (enumeratorCounts). */
  private readonly enumCounts = new Map<number, Int32Array>();
  /**
   * For a dump of every type, ./order-wasm.ts's name keys: the records' words with each name made
   * unique replaced by a number per distinct string, so names are counted in typed arrays (one per
   * namespace), not in Maps keyed by a string decoded per name.
   */
  private keys?: Uint32Array;
  private tagCount?: Int32Array;
  private identCount?: Int32Array;
  private lastEnum?: Int32Array;
  private lastCount?: Int32Array;
  private firstStruct?: Int32Array;
  private firstUnion?: Int32Array;
  /** ./order-wasm.ts's writer of struct and union members (the common ones), for a dump of every type. */
  private members?: CDumpMembers;
  /** ./order-wasm.ts's writer of whole items (what it declines, emitTopLevel writes), for a dump of every type. */
  private items?: CDumpItems;
  /** The items writer's header words, where the `__bee_padN` counter is while it can run. */
  private padWords?: Int32Array;
  /** Enumerators' counts from each enum's slot (items.ebase): 1 once counted, then each enumerator's (the items writer's memory). */
  private ecount?: Int32Array;
  /** Each enum's first slot in ecount (kept when the items writer stops). */
  private ebase?: Int32Array;
  /** Ids on the current declarator path, to reject loops that no C declaration can express. */
  private onPath: Uint8Array;
  /** 1 when some other type (member, pointer, typedef, parameter, ...) refers to the type (built on first use). */
  private referencedIds?: Uint8Array;
  /** Memoized alignment (0 = not yet), packed-ness of composites (0 unknown, 1 no, 2 yes). */
  private readonly layout: TypeLayout;
  private alignW?: Uint8Array;
  private packedW?: Uint8Array;
  private nodeBudget = MAX_DECL_NODES;
  /** Write BTF type tags as `__attribute__((btf_type_tag(...)))` (headers), or drop them (listings). */
  private typeTags = false;
  private padCounter = 0;
  /** Everything written is ASCII (so written as latin1, which copies a one-byte string as it is). */
  private asciiText = false;
  private readonly out: TextOut;

  /** `write` gets the text in chunks (or, as a ByteSink, its UTF-8 bytes: valid only during the call). */
  constructor(btf: Btf, write: (chunk: string) => void);
  constructor(btf: Btf, write: ByteSink, bytes: true);
  constructor(
    private readonly btf: Btf,
    write: ((chunk: string) => void) | ByteSink,
    bytes = false,
  ) {
    this.out = new TextOut(bytes ? (write as ByteSink) : (b) => (write as (chunk: string) => void)(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8')));
    const f = (this.f = flatBtf(btf));
    this.w = f.words;
    this.offs = f.offs;
    this.kinds = f.kinds;
    const n = (this.count = f.count);
    this.ascii = stringAscii(f);
    this.order = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.declared = new Uint8Array(n);
    this.onPath = new Uint8Array(n);
    this.counts = new Int32Array(n);
    this.layout = new TypeLayout(this.shape(), btf.file, n);
  }

  // ---- records ----

  private vlen(id: number): number {
    return id === 0 ? 0 : this.w[this.offs[id]! + 1]! & 0xffff;
  }
  private kflag(id: number): boolean {
    return id !== 0 && this.w[this.offs[id]! + 1]! >>> 31 !== 0;
  }
  /** The size or type word of a record. */
  private st(id: number): number {
    return this.w[this.offs[id]! + W_TYPE]!;
  }
  private hasName(id: number): boolean {
    if (id === 0) return false;
    const off = this.w[this.offs[id]!]!;
    return off !== 0 && this.f.strings[off] !== 0;
  }
  /** A string of the string space. */
  private str(off: number): string {
    if (off === 0) return '';
    // Sliced from the latin1 copy of the whole space when the JavaScript writes the names; where the
    // items writer runs it writes nearly every name, so the few left (and any non-ASCII one) decode
    // from the bytes.
    if (this.ascii && !this.items) return this.text.substring(off, this.text.indexOf('\0', off));
    const b = (this.stringBytes ??= Buffer.from(this.f.strings.buffer, this.f.strings.byteOffset, this.f.strings.length));
    return b.toString(this.ascii ? 'latin1' : 'utf8', off, b.indexOf(0, off));
  }
  /** The type's own name ('' for anonymous). */
  private rawName(id: number): string {
    return id === 0 ? '' : this.str(this.w[this.offs[id]!]!);
  }

  /** The records' words as the layout reads them (a member's entry is name, type, offset words). */
  private shape(): TypeShape {
    const w = this.w;
    const offs = this.offs;
    const kinds = this.kinds;
    return {
      kind: (id) => kinds[id]! as BtfKind,
      size: (id) => w[offs[id]! + W_TYPE]!,
      ref: (id) => (kinds[id] === BtfKind.Array ? w[offs[id]! + 3]! : w[offs[id]! + W_TYPE]!),
      arrayLen: (id) => w[offs[id]! + 5]!,
      memberCount: (id) => w[offs[id]! + 1]! & 0xffff,
      memberType: (id, i) => w[offs[id]! + 3 + 3 * i + 1]!,
      memberBitOffset: (id, i) => {
        const off = w[offs[id]! + 3 + 3 * i + 2]!;
        return w[offs[id]! + 1]! >>> 31 !== 0 ? off & 0xffffff : off;
      },
      memberBitfieldSize: (id, i) => (w[offs[id]! + 1]! >>> 31 !== 0 ? w[offs[id]! + 3 + 3 * i + 2]! >>> 24 : 0),
      name: (id) => this.rawName(id),
    };
  }

  /**
   * An anonymous enum nothing refers to is a top-level declaration of constants (`enum { BPF_ANY,
   * ... };`); one that a member or typedef uses is written inline there. Only the references tell
   * them apart (libbpf's btf_dump_mark_referenced does the same).
   */
  private get referenced(): Uint8Array {
    if (this.referencedIds) return this.referencedIds;
    const ref = (this.referencedIds = new Uint8Array(this.count));
    const { w, offs, kinds } = this;
    for (let id = 1; id < this.count; id++) {
      const p = offs[id]!;
      const vlen = w[p + 1]! & 0xffff;
      const kind = kinds[id]! as BtfKind;
      switch (kind) {
        // Kinds that refer to one type, in the record's size/type word.
        case BtfKind.Ptr:
        case BtfKind.Typedef:
        case BtfKind.Const:
        case BtfKind.Volatile:
        case BtfKind.Restrict:
        case BtfKind.TypeTag:
        case BtfKind.Func:
        case BtfKind.Var:
        case BtfKind.DeclTag:
          ref[w[p + 2]!] = 1;
          break;
        case BtfKind.Array:
          ref[w[p + 3]!] = 1;
          ref[w[p + 4]!] = 1;
          break;
        case BtfKind.Struct:
        case BtfKind.Union:
          for (let k = 0, q = p + 3; k < vlen; k++, q += 3) ref[w[q + 1]!] = 1;
          break;
        case BtfKind.FuncProto:
          ref[w[p + 2]!] = 1;
          for (let k = 0, q = p + 3; k < vlen; k++, q += 2) ref[w[q + 1]!] = 1;
          break;
        case BtfKind.Datasec:
          for (let k = 0, q = p + 3; k < vlen; k++, q += 3) ref[w[q]!] = 1;
          break;
        default:
          break;
      }
    }
    return ref;
  }

  // ---- layout (./layout.ts, reading the records' words) ----

  private sizeof(id: number): number {
    return this.layout.sizeof(id);
  }
  /** TypeLayout's answers, or the WebAssembly's for a full dump (./order-wasm.ts: the same memo, filled for every struct and union at once). */
  private alignof(id: number): number {
    const a = this.alignW?.[id];
    return a ? a : this.layout.alignof(id);
  }
  private isPacked(id: number): boolean {
    const p = this.packedW?.[id];
    return p ? p === 2 : this.layout.isPacked(id);
  }

  /**
   * C names, made unique per namespace the way libbpf does: a name is given when the type is first
   * written or referred to, and later duplicates get `___N` (so the suffixes follow the order of
   * the header, as bpftool's do). Forward declarations (FWD, enums without enumerators) keep
   * their plain name and do not count.
   */
  private readonly tagNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();

  /** The name's count in its namespace, this use included. */
  private unique(space: Map<string, number>, name: string): number {
    const c = (space.get(name) ?? 0) + 1;
    space.set(name, c);
    return c;
  }

  private emit(s: string): void {
    // The text is ASCII where the names and the guard are (the fixed text and numbers are).
    if (this.asciiText) this.out.latin1(s);
    else this.out.str(s);
    this.out.endLine();
  }

  flush(): void {
    this.out.flush();
  }

  /** Returns true when the type is "strong": its user needs it complete or declared before it. */
  private orderType(id: number, throughPtr: boolean, depth = 0): boolean {
    if (depth > 2048) throw new BtfError(this.btf.file, `type ${id}: type graph nests too deeply`);
    const kind = this.kinds[id]! as BtfKind;
    switch (kind) {
      case BtfKind.Void:
      case BtfKind.Int:
      case BtfKind.Float:
        return false;
      case BtfKind.Ptr:
        this.orderType(this.st(id), true, depth + 1);
        return false;
      case BtfKind.Array:
        return this.orderType(this.w[this.offs[id]! + 3]!, throughPtr, depth + 1);
      case BtfKind.Struct:
      case BtfKind.Union: {
        const st = this.order[id];
        if (st === Order.Ordered) return true;
        const named = this.hasName(id);
        if (throughPtr && named) return false;
        if (st === Order.Ordering) {
          if (named) throw new BtfError(this.btf.file, `${kind === BtfKind.Struct ? 'struct' : 'union'} '${this.rawName(id)}' (id ${id}) contains itself by value`);
          return true;
        }
        this.order[id] = Order.Ordering;
        const w = this.w;
        const p = this.offs[id]!;
        for (let i = 0, q = p + 3, n = w[p + 1]! & 0xffff; i < n; i++, q += 3) this.orderType(w[q + 1]!, false, depth + 1);
        if (named) this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        if (this.order[id] === Order.Ordered) return true;
        if (this.hasName(id) || (kind !== BtfKind.Fwd && this.vlen(id) && !this.referenced[id])) this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      case BtfKind.Typedef: {
        if (this.order[id] === Order.Ordered) return true;
        if (this.order[id] === Order.Ordering) return false;
        this.order[id] = Order.Ordering;
        const strong = this.orderType(this.st(id), throughPtr, depth + 1);
        if (throughPtr && !strong) {
          this.order[id] = Order.None;
          return false;
        }
        this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      }
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        return this.orderType(this.st(id), throughPtr, depth + 1);
      case BtfKind.FuncProto: {
        // Parameter and return types of a declaration may be incomplete.
        this.orderType(this.st(id), true, depth + 1);
        const w = this.w;
        const p = this.offs[id]!;
        for (let i = 0, q = p + 3, n = w[p + 1]! & 0xffff; i < n; i++, q += 2) this.orderType(w[q + 1]!, true, depth + 1);
        return false;
      }
      default:
        return false;
    }
  }

  name(id: number): string {
    const have = this.names.get(id);
    if (have !== undefined) return have;
    if (!(id >= 0 && id < this.count)) return '';
    const c = this.nameN(id);
    const raw = this.rawName(id);
    const nm = c > 1 ? `${raw}___${c}` : raw;
    this.names.set(id, nm);
    return nm;
  }

  /** The count of `id`'s name in its namespace that name() gives it (1: the plain name, N: `name___N`), given on first use. */
  private nameN(id: number): number {
    const have = this.counts[id]!;
    if (have !== 0) return have;
    let c = 1;
    if (this.hasName(id)) {
      const k = this.kinds[id]!;
      const tag = k === BtfKind.Struct || k === BtfKind.Union || ((k === BtfKind.Enum || k === BtfKind.Enum64) && this.vlen(id) !== 0);
      if (tag || k === BtfKind.Typedef) {
        const keys = this.keys;
        if (keys) c = ++(tag ? this.tagCount! : this.identCount!)[keys[this.offs[id]!]!]!;
        else c = this.unique(tag ? this.tagNames : this.identNames, this.rawName(id));
      }
    }
    this.counts[id] = c;
    return c;
  }

  /** The counts of an enum's enumerators in the identifier namespace (as nameN's), given on the enum's first use. */
  private enumeratorCounts(id: number): Int32Array {
    let counts = this.enumCounts.get(id);
    if (counts) return counts;
    const w = this.w;
    const p = this.offs[id]!;
    const n = w[p + 1]! & 0xffff;
    const stride = this.kinds[id] === BtfKind.Enum64 ? 3 : 2;
    counts = new Int32Array(n);
    const keys = this.keys;
    const ec = this.ecount;
    const base = ec ? this.ebase![id]! : 0;
    if (ec && ec[base] !== 0) {
      // Counted by the items writer (./order-wasm.ts), which keeps them from the enum's slot.
      for (let i = 0; i < n; i++) counts[i] = ec[base + 1 + i]!;
    } else if (keys) {
      // An enumerator named twice in one enum is one name: each key remembers the last enum (its id + 1) that counted it.
      const ident = this.identCount!;
      const lastEnum = (this.lastEnum ??= new Int32Array(ident.length));
      const lastCount = (this.lastCount ??= new Int32Array(ident.length));
      for (let i = 0, q = p + 3; i < n; i++, q += stride) {
        const k = keys[q]!;
        if (lastEnum[k] === id + 1) counts[i] = lastCount[k]!;
        else {
          lastEnum[k] = id + 1;
          counts[i] = lastCount[k] = ++ident[k]!;
        }
        if (ec) ec[base + 1 + i] = counts[i]!;
      }
      if (ec) ec[base] = 1;
    } else {
      const mine = new Map<string, number>();
      for (let i = 0, q = p + 3; i < n; i++, q += stride) {
        const vname = this.str(w[q]!);
        let c = mine.get(vname);
        if (c === undefined) mine.set(vname, (c = this.unique(this.identNames, vname)));
        counts[i] = c;
      }
    }
    this.enumCounts.set(id, counts);
    return counts;
  }

  /** Dump every type (or just `ids` and what they need). */
  dump(ids?: number[], opts: CDumpOptions = {}): void {
    const header = opts.header ?? true;
    this.typeTags = true;
    const guard = opts.guard ?? '__VMLINUX_H__';
    this.asciiText = this.ascii && isAscii(Buffer.from(guard));
    if (header) {
      this.emit(`#ifndef ${guard}\n#define ${guard}\n\n`);
      this.emit('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n');
      this.emit('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n');
      this.emit('#endif\n\n');
      // What the kfunc prototypes below need, unless the BPF headers already defined it.
      this.emit('#ifndef __ksym\n#define __ksym __attribute__((section(".ksyms")))\n#endif\n\n');
      this.emit('#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n');
      this.emit('#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n');
    }
    // Every type: ordered in WebAssembly where it runs (./order-wasm.ts), the same queue.
    const prep = ids ? undefined : prepareCDumpWasm(this.f);
    this.alignW = prep?.align;
    this.packedW = prep?.packed;
    // By keys only while nothing has been counted by its string (a dumper dumps once).
    if (prep?.keys && this.ascii && this.tagNames.size === 0 && this.identNames.size === 0) {
      this.keys = prep.keys;
      this.tagCount = new Int32Array(prep.keyCount!);
      this.identCount = new Int32Array(prep.keyCount!);
      this.firstStruct = prep.firstStruct;
      this.firstUnion = prep.firstUnion;
      const m = prep.members;
      const it = prep.items;
      if (m && it) {
        // The whole-item writer counts names in its memory: the dumper counts there too.
        this.tagCount = it.tagCount;
        this.identCount = it.identCount;
        this.lastEnum = it.lastEnum;
        this.lastCount = it.lastCount;
        this.ecount = it.ecount;
        this.ebase = it.ebase;
        this.items = it;
        this.padWords = it.words;
      }
      if (m) {
        // The marks and counts move into the WebAssembly's memory, where its member writer reads them.
        m.emitState.set(this.emitState);
        m.declared.set(this.declared);
        m.onPath.set(this.onPath);
        m.counts.set(this.counts);
        this.emitState = m.emitState;
        this.declared = m.declared;
        this.onPath = m.onPath;
        this.counts = m.counts;
        this.members = m;
      }
    }
    const queue: ArrayLike<number> = prep?.queue ?? this.orderAll(ids);
    const it = this.items;
    if (it) this.emitItems(it, queue.length);
    else for (let i = 0; i < queue.length; i++) this.emitTopLevel(queue[i]!);
    if (opts.kfuncs ?? (header && !ids)) this.emitKfuncs();
    if (header) {
      this.emit('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
      this.emit(`#endif /* ${guard} */\n`);
    }
    this.flush();
  }

  /** The queue of named definitions for `ids` (default: every type), in dependency order. */
  orderAll(ids?: number[]): number[] {
    const n = ids ? ids.length : this.count - 1;
    for (let i = 0; i < n; i++) {
      const id = ids ? ids[i]! : i + 1;
      if (!(id >= 0 && id < this.count)) throw new BtfError(this.btf.file, `type id ${id} does not exist (${this.count - 1} types)`);
      const k = this.kinds[id]!;
      // Only type declarations belong in a header.
      if (k === BtfKind.Func || k === BtfKind.Var || k === BtfKind.Datasec || k === BtfKind.DeclTag) continue;
      this.orderType(id, false);
    }
    return this.queue;
  }

  /**
   * `extern <prototype> __weak __ksym;` for every FUNC tagged `bpf_kfunc` (the whole function, not a
   * parameter), sorted by name, `__bpf_fastcall` for those also tagged `bpf_fastcall`: bpftool
   * 7.3+'s form, so probes can call kfuncs without declaring them. Kernels built without the tags
   * (before 6.5 or pahole 1.26) get an empty section, as with bpftool.
   */
  private emitKfuncs(): void {
    const kfuncs = new Set<number>();
    const fastcall = new Set<number>();
    const { w, offs, kinds } = this;
    // The DECL_TAGs (a few hundred of vmlinux's ~126k types) found by the typed array's native indexOf.
    for (let id = kinds.indexOf(BtfKind.DeclTag, 1); id !== -1; id = kinds.indexOf(BtfKind.DeclTag, id + 1)) {
      const p = offs[id]!;
      const target = w[p + 2]!;
      if ((w[p + 3]! | 0) !== -1 || kinds[target] !== BtfKind.Func) continue;
      const tag = this.rawName(id);
      if (tag === KFUNC_TAG) kfuncs.add(target);
      else if (tag === FASTCALL_TAG) fastcall.add(target);
    }
    const sorted = [...kfuncs].sort((a, b) => {
      const x = this.rawName(a);
      const y = this.rawName(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.emit('\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n');
    // Each line in WebAssembly where the items writer runs (the JavaScript where it declines one).
    const it = this.items;
    for (const id of sorted) {
      this.nodeBudget = MAX_DECL_NODES;
      const proto = this.st(id);
      if (kinds[proto] !== BtfKind.FuncProto) continue;
      if (it && it.kfunc(id, fastcall.has(id) ? 1 : 0)) {
        this.takeItems(it);
        continue;
      }
      const p = offs[proto]!;
      const n = w[p + 1]! & 0xffff;
      let params: string;
      if (n === 0 || (n === 1 && w[p + 4] === 0)) params = 'void';
      else {
        params = '';
        for (let i = 0, q = p + 3; i < n; i++, q += 2) {
          if (i) params += ', ';
          params += w[q + 1] === 0 && i === n - 1 ? '...' : this.decl(w[q + 1]!, this.str(w[q]!), 0);
        }
      }
      this.emit(`extern ${fastcall.has(id) ? '__bpf_fastcall ' : ''}${this.decl(this.st(proto), `${this.rawName(id)}(${params})`, 0)} __weak __ksym;\n`);
    }
    this.emit('#endif\n\n');
  }

  /** The queue through the WebAssembly's items(), its output copied as bytes; what it declines, emitTopLevel writes. */
  private emitItems(it: CDumpItems, len: number): void {
    for (let i = 0; i < len; ) {
      if (!this.items) {
        // The member writer trapped in an item written here: the rest as main's JavaScript writes it.
        for (; i < len; i++) this.emitTopLevel(it.queue[i]!);
        break;
      }
      i = it.run(i, len);
      this.takeItems(it);
      if (it.words[ITEMS_STOP]) this.emitTopLevel(it.queue[i++]!);
    }
  }

  /** What the items writer wrote, into the output. */
  private takeItems(it: CDumpItems): void {
    const words = it.words;
    const n = words[ITEMS_POS]! - it.out;
    if (n > 0) {
      this.out.bytes(it.bytes.subarray(it.out, it.out + n));
      words[ITEMS_POS] = it.out;
      this.out.endLine();
    }
  }

  private emitTopLevel(id: number): void {
    if (this.emitState[id] === 2) return;
    this.nodeBudget = MAX_DECL_NODES;
    switch (this.kinds[id]) {
      case BtfKind.Struct:
      case BtfKind.Union: {
        this.emitState[id] = 3;
        const body = this.compositeDef(id, 0);
        this.emit(`${body};\n\n`);
        this.emitState[id] = 2;
        this.declared[id] = 1;
        break;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
        this.emitState[id] = 3;
        this.emit(`${this.enumDef(id, 0)};\n\n`);
        this.emitState[id] = 2;
        break;
      case BtfKind.Fwd:
        this.ensureTagDeclared(id);
        break;
      case BtfKind.Typedef:
        this.ensureTypedef(id);
        break;
      default:
        break;
    }
  }

  private ensureTypedef(id: number): void {
    if (this.emitState[id] !== 0) return;
    this.emitState[id] = 3;
    // The compiler defines this one itself (libbpf skips it too).
    const off = this.w[this.offs[id]!]!;
    if (this.f.strings[off] === 0x5f && this.f.strings[off + 1] === 0x5f && this.rawName(id) === '__builtin_va_list') {
      this.emitState[id] = 2;
      return;
    }
    const text = `typedef ${this.decl(this.st(id), this.name(id), 0)};\n\n`;
    this.emit(text);
    this.emitState[id] = 2;
  }

  /** Each FWD's full definition, found on its first use. */
  private readonly fwdTargets = new Map<number, number | undefined>();

  /**
   * The full definition a FWD stands for (the first struct, or union for a union FWD, of the same
   * name), if any: the container's name lookup (a native scan of the types' name keys for a few
   * dozen FWDs, not a pass over every struct's name).
   */
  private fwdTarget(id: number): number | undefined {
    if (this.fwdTargets.has(id)) return this.fwdTargets.get(id);
    let full: number | undefined;
    if (!this.hasName(id)) full = undefined;
    else if (this.firstStruct) full = (this.kflag(id) ? this.firstUnion! : this.firstStruct)[this.keys![this.offs[id]!]!] || undefined;
    else full = this.btf.findIds(this.rawName(id), this.kflag(id) ? BtfKind.Union : BtfKind.Struct)[0];
    this.fwdTargets.set(id, full);
    return full;
  }

  /** Forward-declare a named struct/union (or FWD) before its first use by pointer. */
  private ensureTagDeclared(id: number): void {
    let target = id;
    if (this.kinds[id] === BtfKind.Fwd) {
      // A FWD aliases the full definition of the same name when there is one.
      const full = this.fwdTarget(id);
      if (full !== undefined && this.name(full) === this.rawName(id)) target = full;
    }
    if (this.declared[target]) return;
    this.emit(`${this.tagKeyword(id)} ${this.name(target)};\n\n`);
    this.declared[target] = 1;
    this.declared[id] = 1;
    if (this.emitState[target] === 0) this.emitState[target] = 1;
  }

  private tagKeyword(id: number): string {
    const k = this.kinds[id];
    if (k === BtfKind.Union || (k === BtfKind.Fwd && this.kflag(id))) return 'union';
    if (k === BtfKind.Enum || k === BtfKind.Enum64) return 'enum';
    return 'struct';
  }

  /** A C declaration of `declarator` with type `id` (declarator may be '' for abstract). */
  decl(id: number, declarator: string, lvl: number, depth = 0): string {
    if (depth > MAX_DECL_DEPTH) throw new BtfError(this.btf.file, `type ${id}: declarator nests too deeply (a loop?)`);
    if (--this.nodeBudget < 0) throw new BtfError(this.btf.file, `type ${id}: declaration expands beyond ${MAX_DECL_NODES} nodes`);
    if (!(id >= 0 && id < this.count)) throw new BtfError(this.btf.file, `type id ${id} does not exist`);
    if (this.onPath[id]) throw new BtfError(this.btf.file, `type ${id} refers to itself through anonymous types`);
    this.onPath[id] = 1;
    try {
      return this.declInner(id, declarator, lvl, depth);
    } finally {
      this.onPath[id] = 0;
    }
  }

  private declInner(id: number, declarator: string, lvl: number, depth: number): string {
    const kind = this.kinds[id]! as BtfKind;
    switch (kind) {
      case BtfKind.Void:
        return join('void', declarator);
      case BtfKind.Int: {
        const name = this.rawName(id);
        return join((this.w[this.offs[id]! + 3]! >>> 24) & INT_BOOL && name === 'bool' ? '_Bool' : name, declarator);
      }
      case BtfKind.Float:
        return join(this.rawName(id), declarator);
      case BtfKind.Ptr: {
        const to = this.st(id);
        const tk = this.kinds[to];
        const paren = tk === BtfKind.Array || tk === BtfKind.FuncProto;
        return this.decl(to, paren ? `(*${declarator})` : `*${declarator}`, lvl, depth + 1);
      }
      case BtfKind.Array:
        return this.decl(this.w[this.offs[id]! + 3]!, `${declarator}[${this.w[this.offs[id]! + 5]!}]`, lvl, depth + 1);
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict: {
        const kw = kind === BtfKind.Const ? 'const' : kind === BtfKind.Volatile ? 'volatile' : 'restrict';
        const to = this.st(id);
        const under = this.kinds[to];
        if (under === BtfKind.Ptr) return this.decl(to, declarator ? `${kw} ${declarator}` : kw, lvl, depth + 1);
        // C cannot qualify arrays or functions directly; restrict only applies to pointers.
        if (under === BtfKind.Array || under === BtfKind.FuncProto || kind === BtfKind.Restrict) return this.decl(to, declarator, lvl, depth + 1);
        return `${kw} ${this.decl(to, declarator, lvl, depth + 1)}`;
      }
      case BtfKind.TypeTag: {
        // Written as an attribute where bpftool 7.5 writes it (a header); dropped in listings.
        const to = this.st(id);
        const under = this.kinds[to];
        if (!this.typeTags || under === BtfKind.Array || under === BtfKind.FuncProto) return this.decl(to, declarator, lvl, depth + 1);
        const attr = `__attribute__((btf_type_tag("${this.rawName(id).replace(/["\\]/g, '')}")))`;
        if (under === BtfKind.Ptr) return this.decl(to, declarator ? `${attr} ${declarator}` : attr, lvl, depth + 1);
        const base = this.decl(to, '', lvl, depth + 1);
        return !declarator ? `${base} ${attr}` : `${base} ${attr}${declarator.startsWith('[') ? '' : ' '}${declarator}`;
      }
      case BtfKind.Typedef:
        this.ensureTypedef(id);
        return join(this.name(id), declarator);
      case BtfKind.Struct:
      case BtfKind.Union:
        if (!this.hasName(id)) return join(this.compositeDef(id, lvl), declarator);
        if (!this.declared[id]) this.ensureTagDeclared(id);
        return join(`${this.tagKeyword(id)} ${this.name(id)}`, declarator);
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (!this.hasName(id)) return join(this.enumDef(id, lvl), declarator);
        if (this.emitState[id] === 0) {
          this.emitState[id] = 3;
          this.emit(`${this.enumDef(id, 0)};\n\n`);
          this.emitState[id] = 2;
        }
        return join(`enum ${this.name(id)}`, declarator);
      case BtfKind.Fwd: {
        this.ensureTagDeclared(id);
        const full = this.fwdTarget(id);
        return join(`${this.kflag(id) ? 'union' : 'struct'} ${full !== undefined ? this.name(full) : this.rawName(id)}`, declarator);
      }
      case BtfKind.FuncProto: {
        const w = this.w;
        const p = this.offs[id]!;
        const n = w[p + 1]! & 0xffff;
        let params: string;
        if (n === 0) params = 'void';
        else {
          params = '';
          for (let i = 0, q = p + 3; i < n; i++, q += 2) {
            if (i) params += ', ';
            params += w[q + 1] === 0 && i === n - 1 ? '...' : this.decl(w[q + 1]!, '', lvl, depth + 1);
          }
        }
        return this.decl(w[p + 2]!, `${declarator}(${params})`, lvl, depth + 1);
      }
      default:
        throw new BtfError(this.btf.file, `type ${id} (kind ${kind}) cannot appear in a C declaration`);
    }
  }

  private enumDef(id: number, lvl: number): string {
    const ind = tabs(lvl + 1);
    const w = this.w;
    const p = this.offs[id]!;
    const info = w[p + 1]!;
    const n = info & 0xffff;
    const signed = info >>> 31 !== 0;
    const is64 = this.kinds[id] === BtfKind.Enum64;
    const suffix = is64 ? (signed ? 'LL' : 'ULL') : '';
    const named = this.hasName(id);
    // An enum without enumerators is only declared (`enum X {}` is not C; bpftool writes `enum X`).
    if (!n) return named ? `enum ${this.name(id)}` : 'enum';
    let s = named ? `enum ${this.name(id)} {` : 'enum {';
    // Enumerators share the ordinary identifier namespace with typedefs.
    const counts = this.enumeratorCounts(id);
    for (let i = 0, q = p + 3; i < n; i++, q += is64 ? 3 : 2) {
      const vname = this.str(w[q]!);
      const c = counts[i]!;
      const nm = c === 1 ? vname : `${vname}___${c}`;
      let v: number | bigint;
      if (!is64) v = signed ? w[q + 1]! | 0 : w[q + 1]!;
      else {
        const lo = w[q + 1]!;
        const hi = w[q + 2]!;
        v = hi === 0 ? lo : signed ? BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)) : (BigInt(hi) << 32n) | BigInt(lo);
      }
      // An unsigned 64-bit enumerator needs the suffix to be read as such by the compiler.
      s += `\n${ind}${nm} = ${v}${suffix},`;
    }
    s += `\n${tabs(lvl)}}`;
    // Enums narrower than int only keep their size when packed (the kernel declares them __packed).
    if (w[p + 2]! < 4) s += ' __attribute__((packed))';
    return s;
  }

  private compositeDef(id: number, lvl: number): string {
    const w = this.w;
    const p = this.offs[id]!;
    const info = w[p + 1]!;
    const n = info & 0xffff;
    const kflag = info >>> 31 !== 0;
    const size = w[p + 2]!;
    const isUnion = this.kinds[id] === BtfKind.Union;
    const kw = isUnion ? 'union' : 'struct';
    const ind = tabs(lvl + 1);
    let s = this.hasName(id) ? `${kw} ${this.name(id)} {` : `${kw} {`;
    const packed = this.isPacked(id);
    let cur = 0;
    for (let i = 0, q = p + 3; i < n; i++, q += 3) {
      const m = this.members;
      if (m) {
        // The WebAssembly writes the members it can, from this one on; this loop writes the next one it did not.
        m.words[MEMBERS_BUDGET] = this.nodeBudget;
        let next: number;
        try {
          next = m.run(id, i, cur, lvl);
        } catch {
          // A trap (a size the layout refuses): the rest of the dump in JavaScript (the items writer's too).
          this.members = undefined;
          this.items = undefined;
          next = i;
        }
        if (next > i) {
          s += m.bytes.toString('latin1', m.out, m.out + m.words[MEMBERS_LEN]!);
          cur = m.words[MEMBERS_CUR]! >>> 0;
          this.nodeBudget = m.words[MEMBERS_BUDGET]!;
          q += 3 * (next - i);
          i = next;
          if (i === n) break;
        }
      }
      const mOff = w[q + 2]!;
      const bitOffset = kflag ? mOff & 0xffffff : mOff;
      const bits = kflag ? mOff >>> 24 : 0;
      const type = w[q + 1]!;
      const off = isUnion ? 0 : bitOffset;
      if (off + bits > size * 8) throw new BtfError(this.btf.file, `member '${this.str(w[q]!)}' of ${kw} '${this.rawName(id)}' (id ${id}) lies outside its ${size} bytes`);
      if (!isUnion) {
        if (bits) {
          if (off > cur) s += this.padding(cur, off, ind);
        } else {
          // In bits: a packed struct's members sit on bytes (libbpf's m_align of 1 byte), so the
          // compiler itself moves a member after a bitfield to the next byte.
          const align = packed ? 8 : this.alignof(type) * 8;
          const natural = Math.ceil(cur / align) * align;
          if (off !== natural && off > cur) s += this.padding(cur, off, ind);
        }
      }
      s += `\n${ind}${this.decl(type, this.str(w[q]!), lvl + 1)}`;
      if (bits) s += `: ${bits}`;
      s += ';';
      if (!isUnion) cur = off + (bits || this.sizeBits(type));
    }
    if (!isUnion) {
      const end = size * 8;
      const align = packed ? 8 : this.alignof(id) * 8;
      const natural = Math.ceil(cur / align) * align;
      if (natural !== end && end > cur) s += this.padding(cur, end, ind);
    }
    s += `\n${tabs(lvl)}}`;
    if (packed) s += ' __attribute__((packed))';
    return s;
  }

  private sizeBits(id: number): number {
    try {
      return this.sizeof(id) * 8;
    } catch {
      return 0;
    }
  }

  /** Anonymous bitfields that move the compiler from bit `from` to bit `to`. */
  private padding(from: number, to: number, ind: string): string {
    let s = '';
    let cur = from;
    if (cur % 8 !== 0) {
      const k = Math.min(8 - (cur % 8), to - cur);
      s += `\n${ind}char: ${k};`;
      cur += k;
    }
    if ((to - cur) / 8 > MAX_BITFIELD_PADDING_BYTES) {
      // A large hole: one byte array keeps the header small (and the layout identical).
      const bytes = Math.floor((to - cur) / 8);
      // The counter is the items writer's where it runs (./order-wasm.ts writes these too).
      const hw = this.padWords;
      const k = hw ? hw[PAD_COUNTER]!++ : this.padCounter++;
      s += `\n${ind}char __bee_pad${k}[${bytes}];`;
      cur += bytes * 8;
    }
    while (to - cur >= 8) {
      let w = 64;
      while (w > 8 && (cur % w !== 0 || to - cur < w)) w >>= 1;
      s += `\n${ind}${w === 64 ? 'long' : w === 32 ? 'int' : w === 16 ? 'short' : 'char'}: ${w};`;
      cur += w;
    }
    if (to > cur) s += `\n${ind}char: ${to - cur};`;
    return s;
  }
}

/** `base` with `declarator` after it (an array suffix directly, anything else after a space). */
function join(base: string, declarator: string): string {
  return !declarator ? base : declarator.charCodeAt(0) === 0x5b /* [ */ ? base + declarator : `${base} ${declarator}`;
}

const TAB_STRINGS: string[] = [];
/** `n` tabs (memoized). */
function tabs(n: number): string {
  return (TAB_STRINGS[n] ??= '\t'.repeat(n));
}

const asciiOf = new WeakMap<FlatBtf, boolean>();
/** Whether the string space is all ASCII (memoized per FlatBtf). */
function stringAscii(f: FlatBtf): boolean {
  let a = asciiOf.get(f);
  if (a === undefined) asciiOf.set(f, (a = isAscii(f.strings)));
  return a;
}

/** The string space of a flattened BTF as latin1 text (one char per byte), memoized per FlatBtf. */
const textOf = new WeakMap<FlatBtf, string>();
function stringText(f: FlatBtf): string {
  let t = textOf.get(f);
  if (t === undefined) textOf.set(f, (t = Buffer.from(f.strings.buffer, f.strings.byteOffset, f.strings.length).toString('latin1')));
  return t;
}

/**
 * Dump BTF as C.
 * @throws {@link BtfError} when the type graph is malformed (a struct that contains itself, nesting too deep).
 */
export function dumpC(btf: Btf, write: (chunk: string) => void, opts: CDumpOptions & { ids?: number[] } = {}): void {
  new CDumper(btf, write).dump(opts.ids, opts);
}

/** dumpC as UTF-8 bytes (each chunk only valid during the call). @throws {@link BtfError} as dumpC. */
export function dumpCBytes(btf: Btf, sink: ByteSink, opts: CDumpOptions & { ids?: number[] } = {}): void {
  new CDumper(btf, sink, true).dump(opts.ids, opts);
}

/** A one-line C spelling of a type (e.g. `struct event *`, `char[16]`), for listings. */
export function typeToC(btf: Btf, id: number): string {
  const d = new CDumper(btf, () => {});
  // Named composites print as references; anonymous ones are summarized.
  const t = btf.typeOrUndefined(id);
  if (t && (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) && !t.name) return `${t.kind === BtfKind.Struct ? 'struct' : 'union'} (anon)`;
  if (t && (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && !t.name) return 'enum (anon)';
  if (t && t.kind === BtfKind.Datasec) return `datasec ${t.name}`;
  if (t && (t.kind === BtfKind.Var || t.kind === BtfKind.Func)) return t.name;
  try {
    return d.decl(id, '', 0).replace(/\s+/g, ' ');
  } catch {
    return `type ${id}`;
  }
}
