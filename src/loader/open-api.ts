// The open-time API: what libbpf lets user space change between bpf_object__open and
// bpf_object__load (bpf_map__set_max_entries / set_value_size / set_key_size / set_type /
// set_inner_map_fd / set_autocreate, bpf_program__set_type / set_attach_target / set_autoload),
// as small handles over the object's spec. Every setter checks its argument, refuses once the
// object is loaded, and returns the handle for chaining.
import { BeeTsError } from '../errors.js';
import { MapType, mapTypeName, progTypeName } from '../syscall/constants.js';
import type { MapSpec, ProgramSpec } from './spec.js';

export class OpenApiError extends BeeTsError {
  constructor(file: string, message: string) {
    super('OPEN_API', `${file}: ${message}`);
  }
}

/** What the handles need from their object (implemented by BpfObject). */
export interface OpenState {
  readonly file: string;
  readonly loaded: boolean;
  /** Programs to load (libbpf's autoload). */
  readonly autoload: Set<string>;
  /** Maps not to create (libbpf's autocreate = false). */
  readonly noAutocreate: Set<string>;
  /** Inner map templates by outer map name, as fds (bpf_map__set_inner_map_fd). */
  readonly innerMapFds: Map<string, number>;
  /** Program type and expected attach type set before load. */
  readonly programTypes: Map<string, { type?: number; expectedAttachType?: number }>;
  /** fentry/fexit/freplace against a BPF program: the target program's fd, by program name. */
  readonly attachPrograms: Map<string, number>;
}

const U32_MAX = 0xffffffff;

function u32(file: string, what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > U32_MAX) throw new OpenApiError(file, `${what} must be an integer from 0 to ${U32_MAX}, got ${n}`);
  return n;
}

/** A map of an opened, not yet loaded object. */
export class OpenMap {
  /** Made by `BpfObject.mapSpec()` / `programSpec()`. @internal */
  constructor(
    private readonly obj: OpenState,
    /** The parsed definition (read it freely; change it through the setters). */
    readonly spec: MapSpec,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  private check(what: string, dataOk = false): void {
    if (this.obj.loaded) throw new OpenApiError(this.obj.file, `map '${this.spec.name}': ${what} after load; call it between open() and load()`);
    if (!dataOk && this.spec.dataSection) throw new OpenApiError(this.obj.file, `map '${this.spec.name}' holds ${this.spec.dataSection.section}; its layout comes from the object's globals and cannot change`);
    if (this.spec.source === 'kconfig') throw new OpenApiError(this.obj.file, `map '${this.spec.name}' holds the __kconfig externs; the loader sizes and fills it`);
    if (this.spec.structOps) throw new OpenApiError(this.obj.file, `map '${this.spec.name}' is a struct_ops map; its layout comes from the kernel`);
  }

  /**
   * bpf_map__set_max_entries (for a ring buffer: its size in bytes).
   * @throws {@link OpenApiError} after load, for an invalid size, or on a struct_ops map.
   */
  setMaxEntries(n: number): this {
    this.check('setMaxEntries');
    this.spec.maxEntries = u32(this.obj.file, 'max_entries', n);
    return this;
  }

  /**
   * bpf_map__set_value_size. The BTF value type no longer describes the value, so it is dropped.
   * @throws {@link OpenApiError} after load, or for an invalid size.
   */
  setValueSize(n: number): this {
    this.check('setValueSize');
    this.spec.valueSize = u32(this.obj.file, 'value_size', n);
    this.spec.valueTypeId = undefined;
    return this;
  }

  /**
   * bpf_map__set_key_size. The BTF key type is dropped likewise.
   * @throws {@link OpenApiError} after load, or for an invalid size.
   */
  setKeySize(n: number): this {
    this.check('setKeySize');
    this.spec.keySize = u32(this.obj.file, 'key_size', n);
    this.spec.keyTypeId = undefined;
    return this;
  }

  /**
   * bpf_map__set_type (a BPF_MAP_TYPE_* number, e.g. constants.MapType.LRU_HASH).
   * @throws {@link OpenApiError} after load, or for an unknown map type.
   */
  setType(type: number): this {
    this.check('setType');
    if (!Number.isInteger(type) || type <= 0 || !mapTypeName(type) || /^\d+$/.test(mapTypeName(type))) throw new OpenApiError(this.obj.file, `map '${this.spec.name}': unknown map type ${type}`);
    this.spec.type = type;
    return this;
  }

  /**
   * bpf_map__set_inner_map_fd: the template for a map-in-map's inner maps (a map or its fd).
   * @throws {@link OpenApiError} after load, or when the map is not a map of maps.
   */
  setInnerMap(inner: { fd: { value: number } } | number): this {
    this.check('setInnerMap');
    if (this.spec.type !== MapType.ARRAY_OF_MAPS && this.spec.type !== MapType.HASH_OF_MAPS)
      throw new OpenApiError(this.obj.file, `map '${this.spec.name}' is a ${mapTypeName(this.spec.type)} map, not a map of maps; setInnerMap needs array_of_maps or hash_of_maps`);
    const fd = typeof inner === 'number' ? inner : inner.fd.value;
    if (!Number.isInteger(fd) || fd < 0) throw new OpenApiError(this.obj.file, `map '${this.spec.name}': setInnerMap needs an open map fd, got ${fd}`);
    this.obj.innerMapFds.set(this.spec.name, fd);
    return this;
  }

  /**
   * bpf_map__set_autocreate: false leaves the map out (programs that use it must not be loaded).
   * @throws {@link OpenApiError} after load.
   */
  setAutocreate(on: boolean): this {
    this.check('setAutocreate');
    if (on) this.obj.noAutocreate.delete(this.spec.name);
    else this.obj.noAutocreate.add(this.spec.name);
    return this;
  }

  get autocreate(): boolean {
    return !this.obj.noAutocreate.has(this.spec.name);
  }
}

/** A program of an opened, not yet loaded object. */
export class OpenProgram {
  /** Made by `BpfObject.mapSpec()` / `programSpec()`. @internal */
  constructor(
    private readonly obj: OpenState,
    readonly spec: ProgramSpec,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  private check(what: string): void {
    if (this.obj.loaded) throw new OpenApiError(this.obj.file, `program '${this.spec.name}': ${what} after load; call it between open() and load()`);
  }

  /**
   * bpf_program__set_type (+ set_expected_attach_type): BPF_PROG_TYPE_* / BPF_* attach type numbers.
   * @throws {@link OpenApiError} after load, or for an unknown program type.
   */
  setType(type: number, expectedAttachType?: number): this {
    this.check('setType');
    if (!Number.isInteger(type) || type <= 0 || /^\d+$/.test(progTypeName(type))) throw new OpenApiError(this.obj.file, `program '${this.spec.name}': unknown program type ${type}`);
    if (expectedAttachType !== undefined && (!Number.isInteger(expectedAttachType) || expectedAttachType < 0))
      throw new OpenApiError(this.obj.file, `program '${this.spec.name}': expected attach type must be a BPF_* attach type number, got ${expectedAttachType}`);
    this.obj.programTypes.set(this.spec.name, { type, expectedAttachType: expectedAttachType ?? this.obj.programTypes.get(this.spec.name)?.expectedAttachType });
    return this;
  }

  /**
   * bpf_program__set_attach_target: the kernel function, tracepoint or LSM hook a
   * tp_btf/fentry/fexit/fmod_ret/lsm/iter program is loaded for, instead of the one its SEC() names;
   * with `targetProgram` (a loaded program or its fd), a function of that BPF program instead
   * (fentry/fexit on a BPF program, freplace), as libbpf's set_attach_target(prog_fd, func).
   * @throws {@link OpenApiError} after load, for a name that is not a kernel symbol, or a target program that is not an fd.
   */
  setAttachTarget(name: string, targetProgram?: number | { readonly fd: { readonly value: number } }): this {
    this.check('setAttachTarget');
    if (typeof name !== 'string' || !/^[A-Za-z_][\w.:]*$/.test(name)) throw new OpenApiError(this.obj.file, `program '${this.spec.name}': attach target must be a kernel symbol name, got '${name}'`);
    this.spec.attachTarget = name;
    if (targetProgram !== undefined) {
      const fd = typeof targetProgram === 'number' ? targetProgram : targetProgram.fd.value;
      if (!Number.isInteger(fd) || fd < 0) throw new OpenApiError(this.obj.file, `program '${this.spec.name}': target program must be a program fd, got ${fd}`);
      this.obj.attachPrograms.set(this.spec.name, fd);
    } else this.obj.attachPrograms.delete(this.spec.name);
    return this;
  }

  /**
   * bpf_program__set_autoload: false parses but does not load this program.
   * @throws {@link OpenApiError} after load.
   */
  setAutoload(on: boolean): this {
    this.check('setAutoload');
    if (on) this.obj.autoload.add(this.spec.name);
    else this.obj.autoload.delete(this.spec.name);
    return this;
  }

  get autoload(): boolean {
    return this.obj.autoload.has(this.spec.name);
  }
}
