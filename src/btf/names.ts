// Name → type ids for one kind of one BTF, without a string per name: an open-addressing table of
// (FNV-1a hash, id, offset into the string section) over the raw name bytes. Names that are not
// plain ASCII in this BTF's own string section (split BTF naming base strings, UTF-8 names, the
// eager form's type objects) go to an ordinary Map keyed by the decoded name instead.

/** The name without a `___flavor` suffix (X___Y where X and Y do not touch the underscores), as libbpf's bpf_core_essential_name_len. */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (name[i] !== '_' && name[i + 1] === '_' && name[i + 2] === '_' && name[i + 3] === '_' && name[i + 4] !== '_') return name.slice(0, i + 1);
  }
  return name;
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

export class NameIndex {
  private readonly hashes: Int32Array;
  private readonly ids: Int32Array;
  private readonly starts: Int32Array;
  private readonly mask: number;
  private readonly other = new Map<string, number | number[]>();
  /** Ids whose name has a `___flavor` suffix, by essential name (CO-RE candidates). */
  private readonly byEssential = new Map<string, number[]>();

  /** `bytes`: the string section the offsets of addBytes point into; `capacity`: at most this many names. */
  constructor(
    private readonly bytes: Uint8Array,
    capacity: number,
  ) {
    let size = 16;
    while (size < 2 * capacity) size *= 2;
    this.mask = size - 1;
    this.hashes = new Int32Array(size);
    this.ids = new Int32Array(size).fill(-1);
    this.starts = new Int32Array(size);
  }

  /**
   * Add a name by its offset into the string section. Returns false (adding nothing) when the name
   * is not plain ASCII: the caller adds it with addString.
   */
  addBytes(id: number, start: number): boolean {
    const b = this.bytes;
    let h = FNV_OFFSET;
    let i = start;
    let run = 0;
    let flavored = false;
    for (let c = b[i]!; c !== 0; c = b[++i]!) {
      if (c >= 0x80) return false;
      h = Math.imul(h ^ c, FNV_PRIME);
      if (c === 0x5f) {
        if (++run === 3) flavored = true;
      } else run = 0;
    }
    if (i === start) return true;
    let s = h & this.mask;
    while (this.ids[s] !== -1) s = (s + 1) & this.mask;
    this.hashes[s] = h;
    this.ids[s] = id;
    this.starts[s] = start;
    if (flavored) this.addEssential(id, Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('latin1'));
    return true;
  }

  addString(id: number, name: string): void {
    if (!name) return;
    const l = this.other.get(name);
    if (l === undefined) this.other.set(name, id);
    else if (typeof l === 'number') this.other.set(name, [l, id]);
    else l.push(id);
    if (name.includes('___')) this.addEssential(id, name);
  }

  private addEssential(id: number, name: string): void {
    const e = essentialName(name);
    if (e === name) return;
    const l = this.byEssential.get(e);
    if (l) l.push(id);
    else this.byEssential.set(e, [id]);
  }

  /** Ids with exactly this name, ascending. */
  get(name: string): number[] {
    const o = this.other.get(name);
    const out = o === undefined ? [] : typeof o === 'number' ? [o] : o.slice();
    let h = FNV_OFFSET;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c >= 0x80) return out;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const b = this.bytes;
    for (let s = h & this.mask; this.ids[s] !== -1; s = (s + 1) & this.mask) {
      if (this.hashes[s] !== h) continue;
      const start = this.starts[s]!;
      let i = 0;
      while (i < name.length && b[start + i] === name.charCodeAt(i)) i++;
      if (i === name.length && b[start + i] === 0) out.push(this.ids[s]!);
    }
    return out.length > 1 ? out.sort((a, c) => a - c) : out;
  }

  /** Ids whose essential name is `name` (exact names included when they have no flavor), ascending. */
  getEssential(name: string): number[] {
    const exact = essentialName(name) === name ? this.get(name) : [];
    const flavored = this.byEssential.get(name);
    return flavored ? exact.concat(flavored).sort((a, c) => a - c) : exact;
  }
}
