// Map-type facts in one table, asked by every site that needs one (maps, the loader, code
// generation, the fake backend): whether values are per CPU, whether the map carries records
// instead of key/value pairs, whether key and value are zero-sized, whether the batch commands
// work, and whether the kernel accepts BTF ids for its key and value. Pure data, like
// constants.ts; test/kernel/map-traits.test.ts checks them against this kernel where it can tell.
import { MapType } from './constants.js';

export interface MapTraits {
  /** Values are one per possible CPU (lookups return ncpu × round_up(value_size, 8) bytes). */
  readonly perCpu: boolean;
  /** A plain value array: every index below max_entries exists (zeros until written), delete is EINVAL. */
  readonly valueArray: boolean;
  /** Carries records (read through mmap or perf buffers), not key/value pairs. */
  readonly records: boolean;
  /** key_size must be 0. */
  readonly zeroKey: boolean;
  /** value_size must be 0. */
  readonly zeroValue: boolean;
  /** BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH work. */
  readonly batchable: boolean;
  /** The kernel accepts btf_key_type_id/btf_value_type_id at creation (libbpf's list of those that do not). */
  readonly btfKeyValue: boolean;
  /** max_entries may be 0 in the object (perf event arrays: one per CPU; local storages: unbounded). */
  readonly optionalMaxEntries: boolean;
}

const M = MapType;
const set = (...t: number[]) => new Set<number>(t);
const PER_CPU = set(M.PERCPU_HASH, M.PERCPU_ARRAY, M.LRU_PERCPU_HASH, M.PERCPU_CGROUP_STORAGE);
const VALUE_ARRAY = set(M.ARRAY, M.PERCPU_ARRAY);
const RECORDS = set(M.RINGBUF, M.USER_RINGBUF, M.PERF_EVENT_ARRAY);
const ZERO_KEY = set(M.QUEUE, M.STACK, M.BLOOM_FILTER, M.RINGBUF, M.USER_RINGBUF, M.ARENA);
const ZERO_VALUE = set(M.RINGBUF, M.USER_RINGBUF, M.ARENA);
const OPTIONAL_MAX = set(M.PERF_EVENT_ARRAY, M.CGROUP_STORAGE, M.PERCPU_CGROUP_STORAGE, M.SK_STORAGE, M.INODE_STORAGE, M.TASK_STORAGE, M.CGRP_STORAGE);
const BATCHABLE = set(M.HASH, M.PERCPU_HASH, M.LRU_HASH, M.LRU_PERCPU_HASH, M.ARRAY, M.PERCPU_ARRAY);
const NO_BTF_KV = set(
  M.PERF_EVENT_ARRAY,
  M.CGROUP_ARRAY,
  M.STACK_TRACE,
  M.ARRAY_OF_MAPS,
  M.HASH_OF_MAPS,
  M.DEVMAP,
  M.DEVMAP_HASH,
  M.CPUMAP,
  M.XSKMAP,
  M.SOCKMAP,
  M.SOCKHASH,
  M.QUEUE,
  M.STACK,
  M.RINGBUF,
  M.USER_RINGBUF,
  M.ARENA,
  M.PROG_ARRAY,
);

const cache = new Map<number, MapTraits>();

/** The traits of a map type (an unknown type: none of them, BTF accepted). */
export function mapTraits(type: number): MapTraits {
  let t = cache.get(type);
  if (!t) {
    t = Object.freeze({
      perCpu: PER_CPU.has(type),
      valueArray: VALUE_ARRAY.has(type),
      records: RECORDS.has(type),
      zeroKey: ZERO_KEY.has(type),
      zeroValue: ZERO_VALUE.has(type),
      batchable: BATCHABLE.has(type),
      btfKeyValue: !NO_BTF_KV.has(type),
      optionalMaxEntries: OPTIONAL_MAX.has(type),
    });
    cache.set(type, t);
  }
  return t;
}
