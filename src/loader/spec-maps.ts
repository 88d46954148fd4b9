// Map definitions in the object spec: BTF-defined maps (`.maps`, and bee's `.maps.<role>`
// sections read the same way: the role is src/bee/roles.ts's reading of the name and section),
// their `__array(values, ...)` initial slots and inner map templates, and the legacy `maps`
// section (struct bpf_map_def).
import { BtfKind, type CompositeType, isComposite } from '../btf/types.js';
import type { MapSpec } from '../maps/spec.js';
import { MapType } from '../syscall/constants.js';
import { mapTraits } from '../syscall/map-traits.js';
import type { SpecReader } from './spec-data.js';

const MAPS_SECTION = /^\.maps(\..+)?$/;

/** sizeof(struct bpf_map_def): type, key_size, value_size, max_entries, map_flags. */
const LEGACY_MAP_DEF_SIZE = 20;

export function parseBtfMaps(rd: SpecReader): MapSpec[] {
  const out: MapSpec[] = [];
  for (const sec of rd.elf.sections) {
    if (!MAPS_SECTION.test(sec.name)) continue;
    const ds = rd.datasec(sec.name);
    if (!ds) {
      if (rd.symbolsIn(sec).length === 0) continue;
      rd.err(`section ${sec.name}`, 'has map definitions but no BTF; compile with clang -g');
    }
    const btf = rd.btf!;
    const rels = rd.elf.relocations.get(sec.index)?.relocations ?? [];
    for (const vi of ds.vars) {
      const v = btf.typeById(vi.type);
      if (v.kind !== BtfKind.Var) rd.err(`section ${sec.name}`, `entry type ${vi.type} is not a VAR`);
      const sym = rd.elf.symbols.find((s) => s.shndx === sec.index && s.name === v.name);
      const base = sym?.value ?? vi.offset;
      const def = btf.resolve(v.type);
      if (!isComposite(def) || def.kind !== BtfKind.Struct) rd.err(`map '${v.name}'`, 'definition is not a struct');
      const spec = mapFromBtfDef(rd, v.name, def as CompositeType, sec.name);
      // `.values = { [i] = &x }`: relocations in the map's own bytes, 8 bytes per slot.
      const valuesMember = (def as CompositeType).members.find((m) => m.name === 'values');
      if (valuesMember) {
        const start = base + valuesMember.bitOffset / 8;
        // The initializer extends the variable past the struct: the symbol's size covers it.
        const end = base + Math.max(sym?.size ?? 0, vi.size);
        const slots: { index: number; symbol: string }[] = [];
        for (const r of rels) {
          if (r.offset < start || r.offset >= end) continue;
          const index = (r.offset - start) / 8;
          if (!Number.isInteger(index) || index < 0) continue;
          slots.push({ index, symbol: rd.elf.symbols[r.symbol]!.name });
        }
        if (slots.length) spec.initSlots = slots.sort((a, b) => a.index - b.index);
      }
      out.push(spec);
    }
  }
  return out;
}

/** The `__uint()` attributes of a BTF map definition that set one MapSpec field as they are. */
const UINT_FIELDS = new Map<string, 'type' | 'maxEntries' | 'flags' | 'numaNode'>([
  ['type', 'type'],
  ['max_entries', 'maxEntries'],
  ['map_flags', 'flags'],
  ['numa_node', 'numaNode'],
]);

function mapFromBtfDef(rd: SpecReader, name: string, def: CompositeType, section: string, inner = false): MapSpec {
  const btf = rd.btf!;
  const subject = `map '${name}'${inner ? ' (inner map)' : ''}`;
  const spec: MapSpec = {
    name,
    type: 0,
    keySize: 0,
    valueSize: 0,
    maxEntries: 0,
    flags: 0,
    pinning: 0,
    mapExtra: 0n,
    section,
    source: 'btf',
  };
  let keySizeSet = false;
  let declaredValueSize: number | undefined;
  let typeValueSize: number | undefined;
  // `__uint(x, N)` is `int (*x)[N]`: the value is the array length.
  const uintOf = (typeId: number, member: string): number => {
    const p = btf.resolve(typeId);
    if (p.kind === BtfKind.Enum || p.kind === BtfKind.Enum64) return Number(p.values[0]?.value ?? 0);
    if (p.kind !== BtfKind.Ptr) rd.err(subject, `attribute '${member}' is not declared with __uint()`);
    const arr = btf.resolve(p.type);
    if (arr.kind !== BtfKind.Array) rd.err(subject, `attribute '${member}' is not declared with __uint()`);
    return arr.nelems;
  };
  const typeOf = (typeId: number, member: string): number => {
    const p = btf.resolve(typeId);
    if (p.kind !== BtfKind.Ptr) rd.err(subject, `attribute '${member}' is not declared with __type()`);
    return p.type;
  };
  for (const m of def.members) {
    const field = UINT_FIELDS.get(m.name);
    if (field) {
      spec[field] = uintOf(m.type, m.name);
      continue;
    }
    switch (m.name) {
      case 'pinning':
        spec.pinning = uintOf(m.type, m.name);
        if (spec.pinning > 1) rd.err(subject, `pinning ${spec.pinning} is not supported (0 = none, 1 = by name)`);
        break;
      case 'map_extra':
        spec.mapExtra = BigInt(uintOf(m.type, m.name));
        break;
      case 'key_size': {
        const n = uintOf(m.type, m.name);
        if (keySizeSet && n !== spec.keySize) rd.err(subject, `key_size ${n} disagrees with the key type's size ${spec.keySize}`);
        spec.keySize = n;
        keySizeSet = true;
        break;
      }
      case 'value_size':
        declaredValueSize = uintOf(m.type, m.name);
        break;
      case 'key': {
        const t = typeOf(m.type, m.name);
        const n = btf.sizeof(t);
        if (keySizeSet && n !== spec.keySize) rd.err(subject, `key type size ${n} disagrees with key_size ${spec.keySize}`);
        spec.keyTypeId = t;
        spec.keySize = n;
        keySizeSet = true;
        break;
      }
      case 'value': {
        const t = typeOf(m.type, m.name);
        spec.valueTypeId = t;
        typeValueSize = btf.sizeof(t);
        break;
      }
      case 'values': {
        // __array(values, T): a zero-length array of pointers to the inner map definition or a prog prototype.
        const arr = btf.resolve(m.type);
        if (arr.kind !== BtfKind.Array || arr.nelems !== 0) rd.err(subject, "'values' must be declared with __array()");
        const ptr = btf.resolve(arr.type);
        if (ptr.kind !== BtfKind.Ptr) rd.err(subject, "'values' elements must be pointers");
        const target = btf.resolve(ptr.type);
        if (target.kind === BtfKind.Struct) {
          if (inner) rd.err(subject, 'nested map-in-map is not supported');
          spec.inner = mapFromBtfDef(rd, `${name}.inner`, target, section, true);
        } else if (target.kind !== BtfKind.FuncProto) rd.err(subject, "'values' must point to a map definition or a function prototype");
        declaredValueSize ??= 4;
        break;
      }
      default:
        rd.err(subject, `unknown attribute '${m.name}'`);
    }
  }
  if (!spec.type) rd.err(subject, "has no 'type' attribute");
  // Ring buffers and perf event arrays carry records: their value type describes a record, not a slot.
  const carriesRecords = mapTraits(spec.type).records;
  if (!carriesRecords && declaredValueSize !== undefined && typeValueSize !== undefined && declaredValueSize !== typeValueSize)
    rd.err(subject, `value type size ${typeValueSize} disagrees with value_size ${declaredValueSize}`);
  spec.valueSize = declaredValueSize ?? typeValueSize ?? 0;
  // The ring buffer has no key or value in the kernel's eyes; the declared value type is kept for decoding.
  if (spec.type === MapType.RINGBUF || spec.type === MapType.USER_RINGBUF) {
    spec.keySize = 0;
    spec.valueSize = 0;
  }
  if (spec.type === MapType.PERF_EVENT_ARRAY) {
    if (!keySizeSet) spec.keySize = 4;
    spec.valueSize = 4;
  }
  return spec;
}

/** The legacy `maps` section: struct bpf_map_def { type, key_size, value_size, max_entries, map_flags }. */
export function parseLegacyMaps(rd: SpecReader): MapSpec[] {
  const sec = rd.elf.sectionByName('maps');
  if (!sec) return [];
  const syms = rd.symbolsIn(sec).sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const le = rd.elf.littleEndian;
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  const defaultSize = Math.floor(sec.size / syms.length);
  return syms.map((s) => {
    const size = s.size || defaultSize;
    const subject = `map '${s.name}' (legacy maps section)`;
    if (size < 16) rd.err(subject, `definition is ${size} bytes; struct bpf_map_def needs at least 16`);
    if (s.value + size > sec.data.length) rd.err(subject, 'definition lies outside the maps section');
    const u32 = (i: number) => (i * 4 + 4 <= size ? dv.getUint32(s.value + i * 4, le) : 0);
    const spec: MapSpec = {
      name: s.name,
      type: u32(0),
      keySize: u32(1),
      valueSize: u32(2),
      maxEntries: u32(3),
      flags: u32(4),
      pinning: 0,
      mapExtra: 0n,
      section: 'maps',
      source: 'legacy',
    };
    if (!spec.type) rd.err(subject, 'has map type 0');
    // libbpf 0.x's rule: fields past struct bpf_map_def (5 u32s) must be zero, or the
    // definition carries options this loader would silently drop.
    for (let off = LEGACY_MAP_DEF_SIZE; off < size; off++)
      if (sec.data[s.value + off] !== 0) rd.err(subject, `has non-zero bytes at offset ${off}, past the ${LEGACY_MAP_DEF_SIZE} bytes of struct bpf_map_def (unsupported options); declare the map in a BTF .maps section`);
    // Perf event arrays hold a CPU index and a perf event fd: 4-byte key and value.
    if (spec.type === MapType.PERF_EVENT_ARRAY) {
      if (!spec.keySize) spec.keySize = 4;
      if (!spec.valueSize) spec.valueSize = 4;
    }
    return spec;
  });
}
