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
// One file on purpose (~550 lines): the two phases share the declared/queued/emitted state and
// the name tables, and bpftool's output that the tests compare against is produced by both.
//
// One file on purpose (~600 lines): the two phases share the dumper's state (what is queued,
// declared and written), and the emit half is one recursive declarator writer.
import type { Btf } from './btf.js';
import { BtfError, BtfKind, type CompositeType, type DeclTagType, type EnumType, type FuncType, INT_BOOL, type RefType } from './types.js';

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

export class CDumper {
  private readonly order: Uint8Array;
  /** 0 none, 1 forward-declared, 2 defined / emitted, 3 being emitted. */
  private readonly emitState: Uint8Array;
  /** 1 once `struct X;` or the definition of X has been written. */
  private readonly declared: Uint8Array;
  private readonly queue: number[] = [];
  private readonly names: (string | undefined)[];
  private readonly enumeratorNames = new Map<string, string>();
  /** Ids on the current declarator path, to reject loops that no C declaration can express. */
  private readonly onPath: Uint8Array;
  /** 1 when some other type (member, pointer, typedef, parameter, ...) refers to the type. */
  private readonly referenced: Uint8Array;
  private nodeBudget = MAX_DECL_NODES;
  /** Write BTF type tags as `__attribute__((btf_type_tag(...)))` (headers), or drop them (listings). */
  private typeTags = false;
  private padCounter = 0;
  private out: string[] = [];
  private outLen = 0;

  constructor(
    private readonly btf: Btf,
    private readonly write: (chunk: string) => void,
  ) {
    const n = btf.count;
    this.order = new Uint8Array(n);
    this.emitState = new Uint8Array(n);
    this.declared = new Uint8Array(n);
    this.onPath = new Uint8Array(n);
    this.names = new Array(n);
    this.referenced = new Uint8Array(n);
    this.markReferenced();
  }

  /**
   * An anonymous enum nothing refers to is a top-level declaration of constants (`enum { BPF_ANY,
   * ... };`); one that a member or typedef uses is written inline there. Only the references tell
   * them apart (libbpf's btf_dump_mark_referenced does the same).
   */
  private markReferenced(): void {
    const ref = this.referenced;
    const rec = this.btf.records();
    for (let id = 1; id < this.btf.count; id++) {
      if (rec && id >= this.btf.firstId) {
        markFromRecord(ref, rec, id - this.btf.firstId);
        continue;
      }
      const t = this.btf.typeById(id);
      if (ONE_REF_KINDS.has(t.kind)) {
        ref[(t as RefType).type] = 1;
        continue;
      }
      switch (t.kind) {
        case BtfKind.Array:
          ref[t.type] = 1;
          ref[t.indexType] = 1;
          break;
        case BtfKind.Struct:
        case BtfKind.Union:
          for (const m of t.members) ref[m.type] = 1;
          break;
        case BtfKind.FuncProto:
          ref[t.returnType] = 1;
          for (const p of t.params) ref[p.type] = 1;
          break;
        case BtfKind.Datasec:
          for (const v of t.vars) ref[v.type] = 1;
          break;
        default:
          break;
      }
    }
  }

  /**
   * C names, made unique per namespace the way libbpf does: a name is given when the type is first
   * written or referred to, and later duplicates get `___N` (so the suffixes follow the order of
   * the header, as bpftool's do). Forward declarations (FWD, enums without enumerators) keep
   * their plain name and do not count.
   */
  private readonly tagNames = new Map<string, number>();
  private readonly identNames = new Map<string, number>();

  private unique(space: Map<string, number>, name: string): string {
    const c = (space.get(name) ?? 0) + 1;
    space.set(name, c);
    return c === 1 ? name : `${name}___${c}`;
  }

  private emit(s: string): void {
    this.out.push(s);
    this.outLen += s.length;
    if (this.outLen > 1 << 16) this.flush();
  }

  flush(): void {
    if (this.out.length) this.write(this.out.join(''));
    this.out = [];
    this.outLen = 0;
  }

  /** Returns true when the type is "strong": its user needs it complete or declared before it. */
  private orderType(id: number, throughPtr: boolean, depth = 0): boolean {
    if (depth > 2048) throw new BtfError(this.btf.file, `type ${id}: type graph nests too deeply`);
    const t = this.btf.typeById(id);
    switch (t.kind) {
      case BtfKind.Void:
      case BtfKind.Int:
      case BtfKind.Float:
        return false;
      case BtfKind.Ptr:
        this.orderType(t.type, true, depth + 1);
        return false;
      case BtfKind.Array:
        return this.orderType(t.type, throughPtr, depth + 1);
      case BtfKind.Struct:
      case BtfKind.Union: {
        const st = this.order[id];
        if (st === Order.Ordered) return true;
        if (throughPtr && t.name) return false;
        if (st === Order.Ordering) {
          if (t.name) throw new BtfError(this.btf.file, `${t.kind === BtfKind.Struct ? 'struct' : 'union'} '${t.name}' (id ${id}) contains itself by value`);
          return true;
        }
        this.order[id] = Order.Ordering;
        for (const m of t.members) this.orderType(m.type, false, depth + 1);
        if (t.name) this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        if (this.order[id] === Order.Ordered) return true;
        if (t.name || (t.kind !== BtfKind.Fwd && !this.referenced[id] && t.values.length)) this.queue.push(id);
        this.order[id] = Order.Ordered;
        return true;
      case BtfKind.Typedef: {
        if (this.order[id] === Order.Ordered) return true;
        if (this.order[id] === Order.Ordering) return false;
        this.order[id] = Order.Ordering;
        const strong = this.orderType(t.type, throughPtr, depth + 1);
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
        return this.orderType(t.type, throughPtr, depth + 1);
      case BtfKind.FuncProto:
        // Parameter and return types of a declaration may be incomplete.
        this.orderType(t.returnType, true, depth + 1);
        for (const p of t.params) this.orderType(p.type, true, depth + 1);
        return false;
      default:
        return false;
    }
  }

  name(id: number): string {
    const have = this.names[id];
    if (have !== undefined) return have;
    const t = this.btf.typeOrUndefined(id);
    if (!t) return '';
    let nm = t.name;
    if (nm) {
      if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union || ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.values.length)) nm = this.unique(this.tagNames, nm);
      else if (t.kind === BtfKind.Typedef) nm = this.unique(this.identNames, nm);
    }
    this.names[id] = nm;
    return nm;
  }

  /** Dump every type (or just `ids` and what they need). */
  dump(ids?: number[], opts: CDumpOptions = {}): void {
    const header = opts.header ?? true;
    this.typeTags = true;
    const guard = opts.guard ?? '__VMLINUX_H__';
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
    const n = ids ? ids.length : this.btf.count - 1;
    for (let i = 0; i < n; i++) {
      const id = ids ? ids[i]! : i + 1;
      const k = this.btf.kindOf(id);
      // Only type declarations belong in a header.
      if (k === BtfKind.Func || k === BtfKind.Var || k === BtfKind.Datasec || k === BtfKind.DeclTag) continue;
      this.orderType(id, false);
    }
    for (const id of this.queue) this.emitTopLevel(id);
    if (opts.kfuncs ?? (header && !ids)) this.emitKfuncs();
    if (header) {
      this.emit('#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n');
      this.emit(`#endif /* ${guard} */\n`);
    }
    this.flush();
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
    for (let id = 1; id < this.btf.count; id++) {
      if (this.btf.kindOf(id) !== BtfKind.DeclTag) continue;
      // (peek: the tag is read once, not kept)
      const t = this.btf.peek(id) as DeclTagType;
      if (t.componentIdx !== -1 || this.btf.kindOf(t.type) !== BtfKind.Func) continue;
      if (t.name === KFUNC_TAG) kfuncs.add(t.type);
      else if (t.name === FASTCALL_TAG) fastcall.add(t.type);
    }
    const sorted = [...kfuncs].sort((a, b) => {
      const x = this.btf.nameOf(a);
      const y = this.btf.nameOf(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.emit('\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n');
    for (const id of sorted) {
      this.nodeBudget = MAX_DECL_NODES;
      const f = this.btf.typeOrUndefined(id) as FuncType;
      const proto = this.btf.typeOrUndefined(f.type);
      if (proto?.kind !== BtfKind.FuncProto) continue;
      let params: string;
      if (proto.params.length === 0 || (proto.params.length === 1 && proto.params[0]!.type === 0)) params = 'void';
      else params = proto.params.map((p, i) => (p.type === 0 && i === proto.params.length - 1 ? '...' : this.decl(p.type, p.name, 0))).join(', ');
      this.emit(`extern ${fastcall.has(id) ? '__bpf_fastcall ' : ''}${this.decl(proto.returnType, `${f.name}(${params})`, 0)} __weak __ksym;\n`);
    }
    this.emit('#endif\n\n');
  }

  private emitTopLevel(id: number): void {
    if (this.emitState[id] === 2) return;
    this.nodeBudget = MAX_DECL_NODES;
    const t = this.btf.typeById(id);
    switch (t.kind) {
      case BtfKind.Struct:
      case BtfKind.Union: {
        this.emitState[id] = 3;
        const body = this.compositeDef(t, 0);
        this.emit(`${body};\n\n`);
        this.emitState[id] = 2;
        this.declared[id] = 1;
        break;
      }
      case BtfKind.Enum:
      case BtfKind.Enum64:
        this.emitState[id] = 3;
        this.emit(`${this.enumDef(t, 0)};\n\n`);
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
    const t = this.btf.typeOrUndefined(id) as RefType;
    this.emitState[id] = 3;
    // The compiler defines this one itself (libbpf skips it too).
    if (t.name === '__builtin_va_list') {
      this.emitState[id] = 2;
      return;
    }
    const text = `typedef ${this.decl(t.type, this.name(id), 0)};\n\n`;
    this.emit(text);
    this.emitState[id] = 2;
  }

  /** Forward-declare a named struct/union (or FWD) before its first use by pointer. */
  private ensureTagDeclared(id: number): void {
    const t = this.btf.typeById(id);
    let target = id;
    if (t.kind === BtfKind.Fwd) {
      // A FWD aliases the full definition of the same name when there is one.
      const full = this.btf.findIds(t.name, t.union ? BtfKind.Union : BtfKind.Struct)[0];
      if (full !== undefined && this.name(full) === t.name) target = full;
    }
    if (this.declared[target]) return;
    this.emit(`${this.tagKeyword(id)} ${this.name(target)};\n\n`);
    this.declared[target] = 1;
    this.declared[id] = 1;
    if (this.emitState[target] === 0) this.emitState[target] = 1;
  }

  private tagKeyword(id: number): string {
    const t = this.btf.typeById(id);
    if (t.kind === BtfKind.Union || (t.kind === BtfKind.Fwd && (t as { union: boolean }).union)) return 'union';
    if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) return 'enum';
    return 'struct';
  }

  /** A C declaration of `declarator` with type `id` (declarator may be '' for abstract). */
  decl(id: number, declarator: string, lvl: number, depth = 0): string {
    if (depth > MAX_DECL_DEPTH) throw new BtfError(this.btf.file, `type ${id}: declarator nests too deeply (a loop?)`);
    if (--this.nodeBudget < 0) throw new BtfError(this.btf.file, `type ${id}: declaration expands beyond ${MAX_DECL_NODES} nodes`);
    const t = this.btf.typeOrUndefined(id);
    if (!t) throw new BtfError(this.btf.file, `type id ${id} does not exist`);
    if (this.onPath[id]) throw new BtfError(this.btf.file, `type ${id} refers to itself through anonymous types`);
    this.onPath[id] = 1;
    try {
      return this.declInner(t, id, declarator, lvl, depth);
    } finally {
      this.onPath[id] = 0;
    }
  }

  private declInner(t: NonNullable<Btf['types'][number]>, id: number, declarator: string, lvl: number, depth: number): string {
    const join = (base: string) => (!declarator ? base : declarator.startsWith('[') ? `${base}${declarator}` : `${base} ${declarator}`);
    switch (t.kind) {
      case BtfKind.Void:
        return join('void');
      case BtfKind.Int:
        return join(t.encoding & INT_BOOL && t.name === 'bool' ? '_Bool' : t.name);
      case BtfKind.Float:
        return join(t.name);
      case BtfKind.Ptr: {
        const target = this.btf.typeById(t.type);
        const paren = target.kind === BtfKind.Array || target.kind === BtfKind.FuncProto;
        return this.decl(t.type, paren ? `(*${declarator})` : `*${declarator}`, lvl, depth + 1);
      }
      case BtfKind.Array:
        return this.decl(t.type, `${declarator}[${t.nelems}]`, lvl, depth + 1);
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict: {
        const kw = t.kind === BtfKind.Const ? 'const' : t.kind === BtfKind.Volatile ? 'volatile' : 'restrict';
        const under = this.btf.typeById(t.type);
        if (under.kind === BtfKind.Ptr) return this.decl(t.type, declarator ? `${kw} ${declarator}` : kw, lvl, depth + 1);
        // C cannot qualify arrays or functions directly; restrict only applies to pointers.
        if (under.kind === BtfKind.Array || under.kind === BtfKind.FuncProto || t.kind === BtfKind.Restrict)
          return this.decl(t.type, declarator, lvl, depth + 1);
        return `${kw} ${this.decl(t.type, declarator, lvl, depth + 1)}`;
      }
      case BtfKind.TypeTag: {
        // Written as an attribute where bpftool 7.5 writes it (a header); dropped in listings.
        const under = this.btf.typeById(t.type);
        if (!this.typeTags || under.kind === BtfKind.Array || under.kind === BtfKind.FuncProto) return this.decl(t.type, declarator, lvl, depth + 1);
        const attr = `__attribute__((btf_type_tag("${t.name.replace(/["\\]/g, '')}")))`;
        if (under.kind === BtfKind.Ptr) return this.decl(t.type, declarator ? `${attr} ${declarator}` : attr, lvl, depth + 1);
        const base = this.decl(t.type, '', lvl, depth + 1);
        return !declarator ? `${base} ${attr}` : `${base} ${attr}${declarator.startsWith('[') ? '' : ' '}${declarator}`;
      }
      case BtfKind.Typedef:
        this.ensureTypedef(id);
        return join(this.name(id));
      case BtfKind.Struct:
      case BtfKind.Union:
        if (!t.name) return join(this.compositeDef(t, lvl));
        if (!this.declared[id]) this.ensureTagDeclared(id);
        return join(`${this.tagKeyword(id)} ${this.name(id)}`);
      case BtfKind.Enum:
      case BtfKind.Enum64:
        if (!t.name) return join(this.enumDef(t, lvl));
        if (this.emitState[id] === 0) {
          this.emitState[id] = 3;
          this.emit(`${this.enumDef(t, 0)};\n\n`);
          this.emitState[id] = 2;
        }
        return join(`enum ${this.name(id)}`);
      case BtfKind.Fwd: {
        this.ensureTagDeclared(id);
        const full = this.btf.findIds(t.name, t.union ? BtfKind.Union : BtfKind.Struct)[0];
        return join(`${t.union ? 'union' : 'struct'} ${full !== undefined ? this.name(full) : t.name}`);
      }
      case BtfKind.FuncProto: {
        let params: string;
        if (t.params.length === 0) params = 'void';
        else
          params = t.params
            .map((p, i) => (p.type === 0 && i === t.params.length - 1 ? '...' : this.decl(p.type, '', lvl, depth + 1)))
            .join(', ');
        return this.decl(t.returnType, `${declarator}(${params})`, lvl, depth + 1);
      }
      default:
        throw new BtfError(this.btf.file, `type ${id} (kind ${t.kind}) cannot appear in a C declaration`);
    }
  }

  private enumDef(t: EnumType, lvl: number): string {
    const ind = '\t'.repeat(lvl + 1);
    const suffix = t.kind === BtfKind.Enum64 ? (t.signed ? 'LL' : 'ULL') : '';
    // An enum without enumerators is only declared (`enum X {}` is not C; bpftool writes `enum X`).
    if (!t.values.length) return t.name ? `enum ${this.name(t.id)}` : 'enum';
    let s = t.name ? `enum ${this.name(t.id)} {` : 'enum {';
    for (const v of t.values) {
      // Enumerators share the ordinary identifier namespace with typedefs.
      const key = `${t.id}:${v.name}`;
      let nm = this.enumeratorNames.get(key);
      if (nm === undefined) this.enumeratorNames.set(key, (nm = this.unique(this.identNames, v.name)));
      // An unsigned 64-bit enumerator needs the suffix to be read as such by the compiler.
      s += `\n${ind}${nm} = ${v.value}${suffix},`;
    }
    s += `\n${'\t'.repeat(lvl)}}`;
    // Enums narrower than int only keep their size when packed (the kernel declares them __packed).
    if (t.size < 4) s += ' __attribute__((packed))';
    return s;
  }

  private compositeDef(t: CompositeType, lvl: number): string {
    const kw = t.kind === BtfKind.Union ? 'union' : 'struct';
    const ind = '\t'.repeat(lvl + 1);
    let s = t.name ? `${kw} ${this.name(t.id)} {` : `${kw} {`;
    const packed = this.btf.isPacked(t);
    let cur = 0;
    const isUnion = t.kind === BtfKind.Union;
    for (const m of t.members) {
      const off = isUnion ? 0 : m.bitOffset;
      if (off + (m.bitfieldSize || 0) > t.size * 8)
        throw new BtfError(this.btf.file, `member '${m.name}' of ${kw} '${t.name}' (id ${t.id}) lies outside its ${t.size} bytes`);
      if (!isUnion) {
        if (m.bitfieldSize) {
          if (off > cur) s += this.padding(cur, off, ind);
        } else {
          const align = packed ? 1 : this.btf.alignof(m.type) * 8;
          const natural = Math.ceil(cur / align) * align;
          if (off !== natural && off > cur) s += this.padding(cur, off, ind);
        }
      }
      s += `\n${ind}${this.decl(m.type, m.name, lvl + 1)}`;
      if (m.bitfieldSize) s += `: ${m.bitfieldSize}`;
      s += ';';
      if (!isUnion) cur = off + (m.bitfieldSize || this.sizeBits(m.type));
    }
    if (!isUnion) {
      const end = t.size * 8;
      const align = packed ? 8 : this.btf.alignof(t.id) * 8;
      const natural = Math.ceil(cur / align) * align;
      if (natural !== end && end > cur) s += this.padding(cur, end, ind);
    }
    s += `\n${'\t'.repeat(lvl)}}`;
    if (packed) s += ' __attribute__((packed))';
    return s;
  }

  private sizeBits(id: number): number {
    try {
      return this.btf.sizeof(id) * 8;
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
      s += `\n${ind}char __bee_pad${this.padCounter++}[${bytes}];`;
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

/** Kinds that refer to one type, in the record's size/type word (`type` of the object). */
const ONE_REF_KINDS = new Set<BtfKind>([BtfKind.Ptr, BtfKind.Typedef, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag, BtfKind.Func, BtfKind.Var, BtfKind.DeclTag]);

/**
 * markReferenced for one own type, from its record's words (the layout parseBtf validated): no
 * type object is built for the FUNCs, VARs and DECL_TAGs a header never writes.
 */
function markFromRecord(ref: Uint8Array, rec: NonNullable<ReturnType<Btf['records']>>, i: number): void {
  const w = rec.words;
  const p = rec.offs[i]!;
  const vlen = w[p + 1]! & 0xffff;
  const kind = rec.kinds[i]! as BtfKind;
  if (ONE_REF_KINDS.has(kind)) {
    ref[w[p + 2]!] = 1;
    return;
  }
  switch (kind) {
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

/**
 * Dump BTF as C.
 * @throws {@link BtfError} when the type graph is malformed (a struct that contains itself, nesting too deep).
 */
export function dumpC(btf: Btf, write: (chunk: string) => void, opts: CDumpOptions & { ids?: number[] } = {}): void {
  new CDumper(btf, write).dump(opts.ids, opts);
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
