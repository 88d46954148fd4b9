// Spec-driven map creation: BTF key/value ids where the kernel takes them (retry without BTF
// if it refuses, like libbpf), ring buffer size rounding, RLIMIT_MEMLOCK only when the kernel
// still charges BPF memory to it, and pin reuse only when the pinned map is compatible.
import { BeeTsError } from '../errors.js';
import fs from 'node:fs';
import type { Btf } from '../btf/btf.js';
import type { MapSpec } from './spec.js';
import { sys } from '../syscall/backend.js';
import { mapCreate, type MapCreateAttr } from '../syscall/bpf.js';
import { MapType, mapTypeName } from '../syscall/constants.js';
import { BpfError, EPERM } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { haveMemcgAccounting } from '../syscall/features.js';
import { mapInfo } from '../syscall/info.js';
import { mapTraits } from '../syscall/map-traits.js';
import { BpfMap } from './map.js';

const RLIMIT_MEMLOCK = 8;
const RLIM_INFINITY = 0xffffffffffffffffn;
let memlockDone = false;

export class MapIncompatibleError extends BeeTsError {
  constructor(
    readonly map: string,
    readonly path: string,
    readonly differences: string[],
  ) {
    super('MAP_INCOMPATIBLE', `map '${map}': the map pinned at ${path} is incompatible (${differences.join(', ')}); remove the pin (rm ${path}) or use another pin directory`);
  }
}

/** Before 5.11 BPF memory counts against RLIMIT_MEMLOCK: raise it to infinity then, and only then. */
export function ensureMemlock(): void {
  if (memlockDone) return;
  memlockDone = true;
  let memcg = false;
  try {
    memcg = haveMemcgAccounting();
  } catch {
    memcg = false;
  }
  if (memcg) return;
  const r = sys().setrlimit(RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY);
  if (typeof r === 'number' && r < 0 && -r === EPERM)
    process.emitWarning('could not raise RLIMIT_MEMLOCK (needs CAP_SYS_RESOURCE); map creation may fail on this kernel');
}

/** libbpf's rounding: a ring buffer is a power-of-2 multiple of the page size. */
export function roundRingbufSize(n: number): number {
  const page = sys().pageSize();
  let size = Math.max(n, page);
  if (size % page !== 0) size = Math.ceil(size / page) * page;
  let p = page;
  while (p < size) p *= 2;
  return p;
}

export interface CreateMapOptions {
  btf?: Btf;
  btfFd?: Fd;
  innerMapFd?: number;
  /** Kernel-side name (defaults to spec.name, truncated to 15 chars). */
  kernelName?: string;
  /** Extra flags to OR in (e.g. BPF_F_MMAPABLE for data sections). */
  extraFlags?: number;
  /** struct_ops: the kernel value type id (`bpf_struct_ops_<name>` in vmlinux); needs btfFd. */
  vmlinuxValueTypeId?: number;
  onWarning?: (msg: string) => void;
}

export function mapCreateAttr(spec: MapSpec, opts: CreateMapOptions = {}): MapCreateAttr {
  let maxEntries = spec.maxEntries;
  if (spec.type === MapType.RINGBUF || spec.type === MapType.USER_RINGBUF) {
    const rounded = roundRingbufSize(maxEntries);
    if (rounded !== maxEntries) opts.onWarning?.(`map '${spec.name}': ring buffer size ${maxEntries} rounded up to ${rounded} (a power-of-2 multiple of the page size)`);
    maxEntries = rounded;
  }
  if (spec.type === MapType.PERF_EVENT_ARRAY && maxEntries === 0) maxEntries = sys().numPossibleCpus();
  const withBtf = opts.btfFd && mapTraits(spec.type).btfKeyValue && (spec.keyTypeId || spec.valueTypeId);
  return {
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    maxEntries,
    flags: spec.flags | (opts.extraFlags ?? 0),
    innerMapFd: opts.innerMapFd,
    numaNode: spec.numaNode,
    name: opts.kernelName ?? spec.name,
    btfFd: withBtf ? opts.btfFd!.value : 0,
    btfKeyTypeId: withBtf ? (spec.keyTypeId ?? 0) : 0,
    btfValueTypeId: withBtf ? (spec.valueTypeId ?? 0) : 0,
    mapExtra: spec.mapExtra,
    // struct_ops: the value is a kernel type; the kernel still wants the object's BTF fd.
    ...(opts.vmlinuxValueTypeId ? { btfFd: opts.btfFd?.value ?? 0, btfKeyTypeId: 0, btfValueTypeId: 0, btfVmlinuxValueTypeId: opts.vmlinuxValueTypeId } : {}),
  };
}

/**
 * @throws {@link BpfError} when the kernel refuses the map (after the retries without BTF a kernel needs).
 */
export function createMap(spec: MapSpec, opts: CreateMapOptions = {}): BpfMap {
  ensureMemlock();
  const attr = mapCreateAttr(spec, opts);
  const subject = `map '${spec.name}' (${mapTypeName(spec.type)})`;
  let fd: Fd;
  try {
    fd = mapCreate(attr, subject);
  } catch (e) {
    // Some kernels refuse BTF for a map type or value layout: BTF is optional, retry without it.
    if (!(e instanceof BpfError) || !attr.btfFd || attr.btfVmlinuxValueTypeId || e.errno === EPERM) throw e;
    fd = mapCreate({ ...attr, btfFd: 0, btfKeyTypeId: 0, btfValueTypeId: 0 }, subject);
    opts.onWarning?.(`map '${spec.name}': created without BTF (${e.code})`);
  }
  return new BpfMap(
    fd,
    { name: spec.name, type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: attr.maxEntries, flags: attr.flags ?? 0 },
    { btf: opts.btf, keyTypeId: spec.keyTypeId, valueTypeId: spec.valueTypeId },
  );
}

/** Differences between a pinned map and what the spec would create (empty = compatible). */
export function pinDifferences(fd: Fd, attr: MapCreateAttr): string[] {
  const info = mapInfo(fd.value);
  const d: string[] = [];
  if (info.type !== attr.type) d.push(`type ${mapTypeName(info.type)} vs ${mapTypeName(attr.type)}`);
  if (info.keySize !== attr.keySize) d.push(`key_size ${info.keySize} vs ${attr.keySize}`);
  if (info.valueSize !== attr.valueSize) d.push(`value_size ${info.valueSize} vs ${attr.valueSize}`);
  if (info.maxEntries !== attr.maxEntries) d.push(`max_entries ${info.maxEntries} vs ${attr.maxEntries}`);
  // The kernel may add flags of its own; compare the ones the spec asks for.
  const want = attr.flags ?? 0;
  if ((info.flags & want) !== want || (info.flags & ~want & 0xffff & ~(1 << 10)) !== 0) d.push(`flags 0x${info.flags.toString(16)} vs 0x${want.toString(16)}`);
  return d;
}

/** Open an existing pin if compatible, else create and pin. Returns the map and whether it was reused. */
export function createOrReusePinned(spec: MapSpec, path: string, opts: CreateMapOptions, openPinned: (p: string) => Fd): { map: BpfMap; reused: boolean } {
  if (fs.existsSync(path)) {
    const fd = openPinned(path);
    const attr = mapCreateAttr(spec, opts);
    const diff = pinDifferences(fd, attr);
    if (diff.length) {
      fd.close();
      throw new MapIncompatibleError(spec.name, path, diff);
    }
    return {
      map: new BpfMap(fd, { name: spec.name, type: spec.type, keySize: spec.keySize, valueSize: spec.valueSize, maxEntries: attr.maxEntries, flags: attr.flags ?? 0 }, {
        btf: opts.btf,
        keyTypeId: spec.keyTypeId,
        valueTypeId: spec.valueTypeId,
      }),
      reused: true,
    };
  }
  const map = createMap(spec, opts);
  try {
    map.pin(path);
  } catch (e) {
    map.close();
    throw e;
  }
  return { map, reused: false };
}
