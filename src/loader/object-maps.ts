// Creating a loaded object's maps from its spec: the .kconfig map (its image from the running
// kernel's config), every other map (created, or a compatible pin reused; inner map templates;
// struct_ops values), global data written and .rodata frozen, and the data maps mmap'd for
// Globals. A refusal for a size left at 0 says which setter user space was meant to call.
import path from 'node:path';
import { BtfKind } from '../btf/types.js';
import { createMap, createOrReusePinned } from '../maps/create.js';
import type { BpfMap } from '../maps/map.js';
import { PROT_READ, PROT_WRITE, sys } from '../syscall/backend.js';
import { objGet } from '../syscall/bpf.js';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MapType } from '../syscall/constants.js';
import { BpfError, EINVAL } from '../syscall/errno.js';
import { haveMmapableArrays } from '../syscall/features.js';
import type { Fd } from '../syscall/fd.js';
import { Mapping } from '../syscall/mapping.js';
import { mapTraits } from '../syscall/map-traits.js';
import { kconfigValue } from './kconfig.js';
import { LoadError } from './load-error.js';
import { type DataSectionSpec, dataMapName, type MapSpec, type ObjectSpec } from './spec.js';
import type { StructOpsPlan } from './struct-ops.js';

/** A global-data map, and its mmap'd view once loaded. */
export interface DataMap {
  spec: DataSectionSpec;
  map: BpfMap;
  view?: DataView;
  mapping?: Mapping;
}

/** What creating the maps reads (the spec, open-time settings) and fills (as it goes, so a failure part-way still closes what was made). */
export interface MapsLoad {
  readonly spec: ObjectSpec;
  readonly opts: { readonly pinMaps?: string; readonly pinRoot?: string };
  readonly btfFd?: Fd;
  readonly noAutocreate: ReadonlySet<string>;
  readonly innerMapFds: ReadonlyMap<string, number>;
  readonly structOpsPlans?: ReadonlyMap<string, StructOpsPlan>;
  readonly maps: Map<string, BpfMap>;
  readonly dataMaps: Map<string, DataMap>;
  readonly createdPins: string[];
  warn(message: string): void;
}

/** When the kernel refuses a map with EINVAL: the zero sizes user space was meant to set, said so. */
function zeroSizeHint(m: MapSpec, haveInner: boolean): string | undefined {
  const zero: [string, string][] = [];
  if (m.maxEntries === 0 && !mapTraits(m.type).optionalMaxEntries) zero.push(['max_entries', 'setMaxEntries']);
  if (m.keySize === 0 && !mapTraits(m.type).zeroKey) zero.push(['key_size', 'setKeySize']);
  if (m.valueSize === 0 && !mapTraits(m.type).zeroValue) zero.push(['value_size', 'setValueSize']);
  const parts = zero.map(([f]) => `${f} is 0`);
  let hint = parts.length
    ? `${parts.join(' and ')}, so the object expects user space to size the map before load: mapSpec('${m.name}').${zero.map(([, c]) => `${c}(n)`).join('.')} (libbpf: bpf_map__set_${zero[0]![0]})`
    : undefined;
  if ((m.type === MapType.ARRAY_OF_MAPS || m.type === MapType.HASH_OF_MAPS) && !m.inner && !haveInner)
    hint = `${hint ? `${hint}; ` : ''}a map of maps needs an inner map template: declare __array(values, ...) or call mapSpec('${m.name}').setInnerMap(map)`;
  return hint;
}

/** The .kconfig map: its value image from the running kernel's config, created (or a pin reused) and frozen. */
export function createKconfigMap(ld: MapsLoad): { map: BpfMap; offsets: Map<string, number> } | undefined {
  const externs = ld.spec.externs.filter((e) => e.kind === 'kconfig');
  if (externs.length === 0) return;
  const offsets = new Map<string, number>();
  const btf = ld.spec.btf!;
  // The spec laid the .kconfig DATASEC out (declaration order, natural alignment).
  const ds = btf.find('.kconfig', BtfKind.Datasec);
  const layout: { name: string; off: number; size: number; typeId: number; weak: boolean }[] = [];
  for (const e of externs) {
    const vi = ds?.vars.find((v) => btf.typeById(v.type).name === e.name);
    layout.push({ name: e.name, off: vi?.offset ?? 0, size: vi?.size ?? btf.sizeof(e.typeId!), typeId: e.typeId!, weak: e.weak });
  }
  const off = ds?.size ?? layout.reduce((m, v) => Math.max(m, v.off + v.size), 0);
  const image = new Uint8Array(Math.max(off, 1));
  const dv = new DataView(image.buffer);
  for (const v of layout) {
    offsets.set(v.name, v.off);
    const val = kconfigValue(v.name);
    if (val === undefined) {
      if (!v.weak) throw new LoadError(ld.spec.file, `extern '${v.name}' (__kconfig) is not set by this kernel's config; declare it __weak to accept 0`);
      continue;
    }
    const t = btf.resolve(v.typeId);
    if (val.kind === 'string') {
      if (t.kind !== BtfKind.Array) throw new LoadError(ld.spec.file, `extern '${v.name}' is a string in the kernel config but not a char array in the program`);
      image.set(Buffer.from(val.value).subarray(0, v.size - 1), v.off);
    } else {
      let x = val.value;
      if (t.kind === BtfKind.Int && t.encoding & 4) x = x ? 1n : 0n; // bool: 'm' counts as set
      for (let i = 0; i < v.size; i++, x >>= 8n) dv.setUint8(v.off + i, Number(x & 0xffn));
    }
  }
  // The spec lists the map (describe shows it); as libbpf makes it: read-only to programs, mmapable.
  const ks = ld.spec.maps.find((m) => m.source === 'kconfig');
  const spec: MapSpec = ks
    ? { ...ks, valueSize: image.length }
    : { name: dataMapName(ld.spec.objName, '.kconfig'), type: MapType.ARRAY, keySize: 4, valueSize: image.length, maxEntries: 1, flags: BPF_F_RDONLY_PROG, pinning: 0, mapExtra: 0n, section: '.kconfig', source: 'kconfig' };
  const opts = { btf: ld.spec.btf, btfFd: ld.btfFd, extraFlags: haveMmapableArrays() ? BPF_F_MMAPABLE : 0, onWarning: (w: string) => ld.warn(w) };
  const pinPath = pinPathFor(ld, spec);
  let reused = false;
  let map: BpfMap;
  if (pinPath) {
    const r = createOrReusePinned(spec, pinPath, opts, (p) => objGet(p, 0, `map ${p}`));
    map = r.map;
    reused = r.reused;
    if (!reused) ld.createdPins.push(pinPath);
  } else map = createMap(spec, opts);
  ld.maps.set(spec.name, map);
  if (!reused) {
    map.updateRaw(new Uint8Array(4), image);
    map.freeze();
  }
  return { map, offsets };
}

function pinPathFor(ld: MapsLoad, m: MapSpec): string | undefined {
  if (ld.opts.pinMaps) return path.join(ld.opts.pinMaps, m.name.replace(/\./g, '_'));
  if (m.pinning === 1) return path.join(ld.opts.pinRoot ?? '/sys/fs/bpf', m.name);
  return undefined;
}

/** Every map of the object but .kconfig (autocreate off skipped): created or reused from a pin, data maps filled, .rodata frozen. */
export function createObjectMaps(ld: MapsLoad): void {
  const mmapable = ld.spec.dataSections.length > 0 && haveMmapableArrays();
  for (const m of ld.spec.maps) {
    if (ld.noAutocreate.has(m.name) || m.source === 'kconfig') continue;
    const opts = {
      btf: ld.spec.btf,
      btfFd: ld.btfFd,
      kernelName: m.dataSection?.mapName ?? m.name,
      extraFlags: m.dataSection ? (mmapable ? BPF_F_MMAPABLE : 0) | (m.dataSection.readonly ? BPF_F_RDONLY_PROG : 0) : 0,
      onWarning: (w: string) => ld.warn(w),
      innerMapFd: undefined as number | undefined,
    };
    const so = ld.structOpsPlans?.get(m.name);
    if (so) {
      if (!ld.btfFd) throw new LoadError(ld.spec.file, `struct_ops map '${m.name}' needs the object's BTF loaded in the kernel, and it was not`);
      ld.maps.set(m.name, createMap({ ...m, valueSize: so.valueSize, valueTypeId: undefined }, { ...opts, vmlinuxValueTypeId: so.valueTypeId }));
      continue;
    }
    let inner: BpfMap | undefined;
    const innerFd = ld.innerMapFds.get(m.name);
    if (innerFd !== undefined) opts.innerMapFd = innerFd;
    else if (m.inner) {
      inner = createMap(m.inner, { btf: ld.spec.btf, btfFd: ld.btfFd });
      opts.innerMapFd = inner.fd.value;
    }
    try {
      const pinPath = pinPathFor(ld, m);
      let map: BpfMap;
      let reused = false;
      if (pinPath) {
        const r = createOrReusePinned(m, pinPath, opts, (p) => objGet(p, 0, `map ${p}`, 'map'));
        map = r.map;
        reused = r.reused;
        if (!reused) ld.createdPins.push(pinPath);
      } else map = createMap(m, opts);
      ld.maps.set(m.name, map);
      if (m.dataSection && !reused) {
        if (m.dataSection.kind !== 'bss' || m.dataSection.data.some((b) => b !== 0)) map.updateRaw(new Uint8Array(4), m.dataSection.data);
        if (m.dataSection.readonly) map.freeze();
      }
      if (m.dataSection) ld.dataMaps.set(m.dataSection.section, { spec: m.dataSection, map });
    } catch (e) {
      const hint = e instanceof BpfError && e.errno === EINVAL ? zeroSizeHint(m, innerFd !== undefined) : undefined;
      if (hint) throw new LoadError(ld.spec.file, `${e instanceof Error ? e.message : e}: ${hint}`, { cause: e });
      throw e;
    } finally {
      inner?.close();
    }
  }
}

/**
 * Prog arrays' and map-in-maps' initial slots (`.values = { [i] = &x }`), once the programs are
 * loaded. `program(name)`: its fd, null for a program autoload left out (its slot stays empty,
 * as libbpf leaves it), undefined when it was not loaded otherwise.
 */
export function fillInitSlots(ld: MapsLoad, program: (name: string) => Fd | null | undefined): void {
  for (const m of ld.spec.maps) {
    if (!m.initSlots) continue;
    const map = ld.maps.get(m.name);
    if (!map) continue; // autocreate off
    for (const s of m.initSlots) {
      const fd = m.type === MapType.PROG_ARRAY ? program(s.symbol) : ld.maps.get(s.symbol)?.fd;
      if (fd === null) continue;
      if (!fd) throw new LoadError(ld.spec.file, `map '${m.name}' slot ${s.index} refers to '${s.symbol}', which was not loaded`);
      map.update(s.index, fd.value);
    }
  }
}

/** mmap each mmapable data map, for Globals (a map that cannot be mapped is read through lookups). */
export function mmapDataSections(ld: MapsLoad): void {
  for (const dm of ld.dataMaps.values()) {
    if (!(dm.map.flags & BPF_F_MMAPABLE)) continue;
    const page = sys().pageSize();
    const len = Math.ceil(Math.max(dm.spec.size, 1) / page) * page;
    const prot = dm.spec.readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    let mapping: Mapping;
    try {
      mapping = Mapping.shared(len, prot, dm.map.fd.value, 0, dm.spec.section);
    } catch {
      ld.warn(`${ld.spec.file}: cannot mmap ${dm.spec.section}; globals go through map lookups`);
      continue;
    }
    // Released by close(), or with the last view of it when the object is dropped unclosed.
    dm.mapping = mapping;
    dm.view = new DataView(mapping.buffer, 0, dm.spec.size);
  }
}
