// Object spec → loaded collection. Order: BTF (sanitized, optional), kconfig, maps (data maps
// filled, .rodata frozen, pins reused or created), then each program: flatten its subprograms,
// apply map/data/call/callback/extern relocations and CO-RE, load with readable errors. If
// anything fails, everything created so far is closed and new pins are removed. The steps live
// beside it: map creation in object-maps.ts, linking and relocation in assemble.ts, the program
// load call in prog-load.ts, attach targets in attach-target.ts, globals in globals.ts; this file
// holds the order, and the loaded BpfObject and Program (which holds its BpfObject).
import { NotSupportedError } from '../errors.js';
import fs from 'node:fs';
import { ensureMemlock } from '../maps/create.js';
import { BpfMap } from '../maps/map.js';
import { objPin, progBindMap, progTestRun, type TestRunOpts } from '../syscall/bpf.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, MapType, ProgType, progTypeName } from '../syscall/constants.js';
import type { Fd } from '../syscall/fd.js';
import { loadObjectBtf } from './btf-load.js';
import { btfFeatures } from './btf-features.js';
import { kernelBtf } from './btf-files.js';
import type { CandidateCache } from './core.js';
import { linuxKernelVersion } from './kconfig.js';
import { loadProgram, refuseMissingKind } from './prog-load.js';
import { type AssembledProgram, assembleProgram, type CoreRelocationReport, extInfoRecords } from './assemble.js';
import { LoadError } from './load-error.js';
import { createKconfigMap, createObjectMaps, type DataMap, fillInitSlots, type MapsLoad, mmapDataSections } from './object-maps.js';
import { type AttachOptions, SEC_ATTACH_BTF, SEC_SLEEPABLE, SEC_XDP_FRAGS, sectionHook } from './sections.js';
import { kernelTargetId, targetProgramFuncId } from './attach-target.js';
import { fillStructOpsImage, planStructOps, type ProgramTarget, setStructOpsField, type StructOpsPlan } from './struct-ops.js';
import { attachProgram, attachStructOps, canAutoAttach } from '../link/attach.js';
import type { AttachHook } from '../link/kinds.js';
import type { Link } from '../link/link.js';
import { Globals } from './globals.js';
import { OpenApiError, OpenMap, OpenProgram, type OpenState } from './open-api.js';
import { type DataSectionSpec, type ObjectSpec, parseObject, type ProgramSpec } from './spec.js';
import { InputFileError, readInputFile } from '../syscall/files.js';
import { BpfError, EINVAL } from '../syscall/errno.js';

export { LoadError } from './load-error.js';
export { kernelBtf } from './btf-files.js';
export type { CoreRelocationReport } from './assemble.js';

export interface OpenOptions {
  /**
   * Target BTF for CO-RE instead of /sys/kernel/btf/vmlinux and module BTF (e.g. a BTFHub file).
   * As in libbpf (btf_custom_path) it serves CO-RE only: attach targets (tp_btf, fentry, lsm, iter)
   * and kfunc / typed ksym ids always come from the running kernel.
   */
  btfPath?: string;
  /** Pin every map under this directory, reusing compatible pins (bpftool loadall pinmaps, bee --pin-maps). */
  pinMaps?: string;
  /** Root for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` (default /sys/fs/bpf). */
  pinRoot?: string;
  /** Keep the full verifier log in errors. */
  verbose?: boolean;
  /** Load only these programs (libbpf's autoload); the others stay parsed but are not loaded. */
  autoload?: string[];
  /** Program type / expected attach type overrides, by program name. */
  programTypes?: Record<string, { type?: number; expectedAttachType?: number }>;
  onWarning?: (message: string) => void;
  /** Called for every CO-RE relocation as it is resolved (libbpf's debug log in structured form). */
  onCoreRelocation?: (r: CoreRelocationReport) => void;
}

/** A loaded program: its fd, and attach/pin/test-run helpers. */
export class Program implements Disposable {
  /** Made by `BpfObject.load()`. @internal */
  constructor(
    readonly object: BpfObject,
    readonly spec: ProgramSpec,
    readonly fd: Fd,
    readonly type: number,
    readonly expectedAttachType: number | undefined,
  ) {
    this.hook = sectionHook(spec.section);
  }
  /** How the program attaches: its section's hook in the SEC() table. @internal */
  readonly hook: AttachHook<any>;
  get name(): string {
    return this.spec.name;
  }
  get section(): string {
    return this.spec.section;
  }
  get typeName(): string {
    return progTypeName(this.type);
  }
  /**
   * @throws {@link BpfError} when the kernel refuses the pin (no bpffs there, the path exists, ...).
   */
  pin(p: string): void {
    objPin(this.fd.value, p, `pin program '${this.name}' at ${p}`);
  }
  /**
   * Attach by section (or explicit options); returns a disposable link.
   * @throws {@link AttachError} when the section or options name no attach point, or a required option is missing;
   * @throws {@link NotSupportedError} when the kernel lacks the attach kind; {@link BpfError} when the kernel refuses it;
   * @throws {@link SymbolError}, {@link UsdtError}, {@link TracefsError}, {@link NetlinkError} from resolving uprobe symbols, USDT notes, tracefs probes or netlink attachments.
   */
  attach(opts: AttachOptions = {}): Link {
    try {
      return attachProgram(this, opts);
    } catch (e) {
      // Name the object, as load errors do; the error keeps its class (AttachError, BpfError...).
      if (e instanceof Error && !e.message.startsWith(`${this.object.file}: `)) e.message = `${this.object.file}: ${e.message}`;
      throw e;
    }
  }
  /**
   * Socket filter / SO_REUSEPORT program on one socket (setsockopt SO_ATTACH_BPF); detached on close.
   * @throws {@link AttachError} for a program type that cannot filter sockets; {@link BpfError} when setsockopt fails.
   */
  attachToSocket(socketFd: number): Link {
    return attachProgram(this, { socket: socketFd });
  }

  /**
   * BPF_PROG_TEST_RUN (skb, XDP, raw_tp, syscall programs...).
   * @throws {@link BpfError} when the kernel cannot test-run this program type or rejects the input.
   */
  testRun(opts: TestRunOpts = {}) {
    return progTestRun(this.fd.value, opts, `program '${this.name}'`);
  }
  close(): void {
    this.fd.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}

export class BpfObject implements Disposable, OpenState {
  readonly spec: ObjectSpec;
  readonly file: string;
  readonly maps = new Map<string, BpfMap>();
  readonly programs = new Map<string, Program>();
  readonly globals: Globals;
  btfFd?: Fd;
  loaded = false;
  private dataMaps = new Map<string, DataMap>();
  private kconfigMap?: BpfMap;
  private kconfigOffsets = new Map<string, number>();
  private readonly createdPins: string[] = [];
  private links: Link[] = [];
  /** CO-RE candidates per local type, narrowed across the object's relocations (libbpf's cand_cache). */
  private coreCandidates: CandidateCache = new Map();
  /** Open-time state (see mapSpec() / programSpec()). */
  readonly autoload: Set<string>;
  readonly noAutocreate = new Set<string>();
  readonly innerMapFds = new Map<string, number>();
  readonly programTypes: Map<string, { type?: number; expectedAttachType?: number }>;
  readonly attachPrograms = new Map<string, number>();
  private structOps?: { plans: Map<string, StructOpsPlan>; programs: Map<string, ProgramTarget> };

  /** An object from a parsed spec (`open` and `fromBytes` parse for you); nothing reaches the kernel before `load()`. */
  constructor(
    spec: ObjectSpec,
    readonly opts: OpenOptions = {},
  ) {
    this.spec = spec;
    this.file = spec.file;
    this.globals = new Globals(this);
    this.autoload = new Set(opts.autoload ?? spec.programs.filter((p) => p.autoload).map((p) => p.name));
    this.programTypes = new Map(Object.entries(opts.programTypes ?? {}));
  }

  /**
   * A map before load, to change what libbpf lets user space change: setMaxEntries, setValueSize,
   * setKeySize, setType, setInnerMap, setAutocreate (bpf_map__set_*).
   * @throws {@link LoadError} when the object has no such map.
   */
  mapSpec(name: string): OpenMap {
    const m = this.spec.maps.find((x) => x.name === name || x.dataSection?.section === name);
    if (!m) throw new LoadError(this.file, `no map '${name}' (have: ${this.spec.maps.map((x) => x.name).join(', ') || 'none'})`);
    return new OpenMap(this, m);
  }

  /**
   * A program before load: setType, setAttachTarget, setAutoload (bpf_program__set_*).
   * @throws {@link LoadError} when the object has no such program.
   */
  programSpec(name: string): OpenProgram {
    const p = this.spec.programs.find((x) => x.name === name);
    if (!p) throw new LoadError(this.file, `no program '${name}' (have: ${this.spec.programs.map((x) => x.name).join(', ') || 'none'})`);
    return new OpenProgram(this, p);
  }

  /**
   * @throws {@link LoadError} when the file cannot be read; {@link ElfError}, {@link SpecError}, {@link BtfError} when it is not a well-formed BPF object.
   */
  static open(file: string, opts: OpenOptions = {}): BpfObject {
    let bytes: Buffer;
    try {
      bytes = readInputFile(file, 'object file');
    } catch (e) {
      throw new LoadError(file, e instanceof InputFileError ? e.reason : String(e));
    }
    return new BpfObject(parseObject(bytes, { file }), opts);
  }

  /**
   * @throws {@link ElfError}, {@link SpecError}, {@link BtfError} when the bytes are not a well-formed BPF object.
   */
  static fromBytes(bytes: Uint8Array, opts: OpenOptions & { file?: string } = {}): BpfObject {
    return new BpfObject(parseObject(bytes, { file: opts.file ?? '<bytes>' }), opts);
  }

  private warn(m: string): void {
    this.opts.onWarning?.(m);
  }

  /** The state map creation reads and fills (object-maps.ts). */
  private mapsLoad(): MapsLoad {
    const { spec, opts, btfFd, noAutocreate, innerMapFds, maps, dataMaps, createdPins } = this;
    return { spec, opts, btfFd, noAutocreate, innerMapFds, structOpsPlans: this.structOps?.plans, maps, dataMaps, createdPins, warn: (m) => this.warn(m) };
  }

  /**
   * Set a `const volatile` (or any global) before load; .rodata constants let the verifier prune dead code.
   * @throws {@link OpenApiError} after load; {@link LoadError} when there is no such global; {@link CodecError} when the value does not fit.
   */
  setConstant(name: string, value: unknown): this {
    if (this.loaded) throw new OpenApiError(this.file, `setConstant('${name}') after load; use globals.set for .data/.bss`);
    this.globals.set(name, value);
    return this;
  }

  /**
   * A typed view of a data section: the mmap'd map after load, the spec's image before.
   * @throws {@link BpfError} when reading a non-mmapable data map fails.
   */
  dataView(d: DataSectionSpec, _write = false): DataView {
    if (!this.loaded) return new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength);
    const dm = this.dataMaps.get(d.section)!;
    if (dm.view) return dm.view;
    // Not mmapable: read the current value through the map.
    const v = dm.map.lookupRaw(new Uint8Array(4))!;
    d.data.set(v.subarray(0, d.size));
    return new DataView(d.data.buffer, d.data.byteOffset, d.data.byteLength);
  }

  /**
   * After a write through the fallback path, push the image to the kernel.
   * @throws {@link BpfError} when the map update fails.
   */
  flushData(d: DataSectionSpec): void {
    if (!this.loaded) return;
    const dm = this.dataMaps.get(d.section)!;
    if (!dm.view) dm.map.updateRaw(new Uint8Array(4), d.data);
  }

  /**
   * @throws {@link LoadError} when the object has no such map (or it was not created).
   */
  map(name: string): BpfMap {
    const m = this.maps.get(name) ?? [...this.maps.values()].find((x) => x.name === name);
    if (!m) throw new LoadError(this.file, `no map '${name}' (have: ${[...this.maps.keys()].join(', ')})`);
    return m;
  }

  /**
   * @throws {@link LoadError} when there is no such program, or it was not loaded (autoload).
   */
  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) {
      if (this.loaded && this.spec.programs.some((x) => x.name === name)) throw new LoadError(this.file, `program '${name}' was not loaded (autoload: ${[...this.autoload].join(', ')})`);
      throw new LoadError(this.file, `no program '${name}' (have: ${[...this.programs.keys()].join(', ')})`);
    }
    return p;
  }

  /**
   * @throws {@link VerifierError} when the verifier rejects a program (its log and the failing source line);
   * @throws {@link LoadError} for what the object or its options get wrong (byte order, a map left unsized, ...); {@link CoreError} for CO-RE relocations that cannot be resolved;
   * @throws {@link BtfLoadError} when the kernel rejects the sanitized BTF; {@link MapIncompatibleError} when a pinned map differs from its spec;
   * @throws {@link StructOpsError}, {@link LoadTargetError} for struct_ops and fentry/freplace targets; {@link NotSupportedError} for kernel features it needs;
   * @throws {@link BpfError} for any other kernel refusal. Nothing stays in the kernel when load fails.
   */
  load(): this {
    if (this.loaded) return this;
    const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (this.spec.littleEndian !== le)
      throw new LoadError(this.file, `is a ${this.spec.littleEndian ? 'little' : 'big'}-endian object; this machine needs ${le ? 'bpfel' : 'bpfeb'} (clang -target ${le ? 'bpfel' : 'bpfeb'})`);
    ensureMemlock();
    try {
      this.loadBtf();
      if (this.spec.maps.some((m) => m.structOps)) this.structOps = planStructOps(this.spec.maps, this.spec.btf!, kernelBtf(), this.file);
      const ld = this.mapsLoad();
      const kc = createKconfigMap(ld);
      if (kc) {
        this.kconfigMap = kc.map;
        this.kconfigOffsets = kc.offsets;
      }
      createObjectMaps(ld);
      const only = this.opts.autoload;
      if (only) {
        const unknown = only.filter((n) => !this.spec.programs.some((p) => p.name === n));
        if (unknown.length) throw new LoadError(this.file, `no program ${unknown.map((n) => `'${n}'`).join(', ')} to load (have: ${this.spec.programs.map((p) => p.name).join(', ')})`);
      }
      for (const p of this.spec.programs) {
        // struct_ops programs no struct_ops map names have no attach point: left out, as libbpf does.
        if (p.progType === ProgType.STRUCT_OPS && !this.structOps?.programs.has(p.name)) continue;
        if (this.autoload.has(p.name)) this.loadOne(p);
      }
      fillInitSlots(ld, (n) => this.programs.get(n)?.fd ?? (this.autoload.has(n) ? undefined : null));
      for (const plan of this.structOps?.plans.values() ?? []) fillStructOpsImage(plan, (n) => this.programs.get(n)?.fd.value, this.file);
      this.loaded = true;
      // As libbpf frees its cand_cache after relocating: the candidates hold the kernel's BTF.
      this.coreCandidates.clear();
      mmapDataSections(ld);
    } catch (e) {
      this.close();
      for (const p of this.createdPins) fs.rmSync(p, { force: true });
      // Every load error names the object (the README's `<file>: ...` promise), whatever layer
      // threw it; the error keeps its class (VerifierError, BpfError, ...).
      if (e instanceof Error && !e.message.startsWith(`${this.file}: `)) e.message = `${this.file}: ${e.message}`;
      throw e;
    }
    return this;
  }

  private loadBtf(): void {
    if (!this.spec.btf) return;
    if (!btfFeatures.base()) {
      // A kernel without BPF_BTF_LOAD (before 4.18): load without BTF, as libbpf does.
      this.warn(`${this.file}: this kernel does not load BTF; maps lose pretty-printing, programs func/line info`);
      return;
    }
    try {
      this.btfFd = loadObjectBtf(this.spec.btf, undefined, this.file);
    } catch (e) {
      // After sanitizing, a rejection is a bug to report, not something to hide: loading on
      // without BTF would silently drop func/line info and break maps with spin locks or timers.
      throw new LoadError(this.file, `the kernel rejected the object's BTF (after sanitizing it for this kernel): ${(e as Error).message}`);
    }
  }

  /** Flatten a program with every subprogram it reaches, then relocate (assemble.ts). */
  private assemble(p: ProgramSpec): AssembledProgram {
    const kconfig = this.kconfigMap ? { map: this.kconfigMap, offsets: this.kconfigOffsets } : undefined;
    return assembleProgram(p, { spec: this.spec, maps: this.maps, noAutocreate: this.noAutocreate, dataMaps: this.dataMaps, kconfig, coreCandidates: this.coreCandidates, opts: this.opts });
  }

  private attachBtfId(p: ProgramSpec): number {
    const so = this.structOps?.programs.get(p.name);
    if (so) return so.attachBtfId;
    if (!(this.secFlags(p) & SEC_ATTACH_BTF)) return 0;
    const targetProg = this.attachPrograms.get(p.name);
    if (targetProg !== undefined) return targetProgramFuncId(targetProg, p.attachTarget, `${this.file}: program '${p.name}'`);
    if ((this.programTypes.get(p.name)?.type ?? p.progType) === ProgType.EXT)
      throw new LoadError(this.file, `program '${p.name}' (${p.section}) replaces a function of another BPF program: name it with programSpec('${p.name}').setAttachTarget('<function>', targetProgram) before load`);
    return kernelTargetId(p, this.file);
  }

  /** The SEC() flags, unless the program type was changed: then they no longer apply (libbpf drops the SEC() handler). */
  private secFlags(p: ProgramSpec): number {
    const t = this.programTypes.get(p.name)?.type;
    return t !== undefined && t !== p.progType ? 0 : p.secFlags;
  }

  private loadOne(p: ProgramSpec): void {
    const over = this.programTypes.get(p.name);
    const type = over?.type ?? p.progType;
    if (!type) throw new LoadError(this.file, `program '${p.name}': section '${p.section}' does not name a program type; set one with programSpec(name).setType() (API) or rename the section (e.g. SEC("tp/..."))`);
    const expected = over?.expectedAttachType ?? this.structOps?.programs.get(p.name)?.memberIndex ?? p.expectedAttachType;
    const a = this.assemble(p);
    const withBtf = this.btfFd !== undefined && a.funcInfo.length > 0 && a.funcInfo[0]![0] === 0;
    const { fi, li } = extInfoRecords(a);
    let flags = 0;
    if (this.secFlags(p) & SEC_SLEEPABLE) flags |= BPF_F_SLEEPABLE;
    if (this.secFlags(p) & SEC_XDP_FRAGS) flags |= BPF_F_XDP_HAS_FRAGS;
    const fd = refuseMissingKind(p, () => loadProgram(
      {
        type,
        insns: a.insns,
        license: p.license,
        kernVersion: p.kernelVersion || (type === ProgType.KPROBE ? linuxKernelVersion() : 0),
        flags,
        name: p.name,
        expectedAttachType: expected,
        btfFd: withBtf ? this.btfFd!.value : 0,
        funcInfoRecSize: withBtf ? 8 : 0,
        funcInfo: withBtf ? fi : undefined,
        funcInfoCnt: withBtf ? a.funcInfo.length : 0,
        lineInfoRecSize: withBtf && a.lineRaw.length ? 16 : 0,
        lineInfo: withBtf && a.lineRaw.length ? li : undefined,
        lineInfoCnt: withBtf ? a.lineRaw.length : 0,
        attachBtfId: this.attachBtfId(p),
        attachBtfObjFd: this.attachPrograms.get(p.name),
      },
      { program: p.name, section: p.section, lines: a.lineInfo, poisons: a.poisons, verbose: this.opts.verbose },
    ));
    // libbpf binds .rodata to every program (BPF_PROG_BIND_MAP), so bpf_metadata_* constants
    // stay with a program that never reads them; kernels before 5.10 lack the command.
    const rodata = this.dataMaps.get('.rodata');
    if (rodata) {
      const r = progBindMap(fd.value, rodata.map.fd.value);
      if (r < 0 && -r !== EINVAL) this.warn(`${this.file}: program '${p.name}': cannot bind .rodata (BPF_PROG_BIND_MAP: errno ${-r})`);
    }
    this.programs.set(p.name, new Program(this, p, fd, type, expected));
  }

  /**
   * A loaded struct_ops map with its value image (program fds filled in), for registration.
   * @throws {@link LoadError} when there is no such struct_ops map; {@link OpenApiError} before load.
   */
  structOpsMap(name: string): { map: BpfMap; image: Uint8Array; link: boolean; typeName: string } {
    const plan = this.structOps?.plans.get(name);
    const m = this.spec.maps.find((x) => x.name === name);
    if (!plan || !m?.structOps) throw new LoadError(this.file, `no struct_ops map '${name}' (have: ${this.structOpsNames().join(', ') || 'none'})`);
    if (!this.loaded) throw new OpenApiError(this.file, `struct_ops map '${name}' is registered after load()`);
    return { map: this.map(name), image: plan.image, link: plan.link, typeName: m.structOps.typeName };
  }

  /** The object's SOCKMAP and SOCKHASH maps (what sk_msg / sk_skb programs attach to). */
  sockMaps(): { name: string; fd: Fd }[] {
    return [...this.maps.entries()].filter(([, m]) => m.type === MapType.SOCKMAP || m.type === MapType.SOCKHASH).map(([name, m]) => ({ name, fd: m.fd }));
  }

  /** Names of the object's struct_ops maps. */
  structOpsNames(): string[] {
    return this.spec.maps.filter((m) => m.structOps).map((m) => m.name);
  }

  /**
   * Set a non-function member of a struct_ops map before load (e.g. a congestion control's `name`).
   * @throws {@link OpenApiError} after load; {@link LoadError} when there is no such struct_ops map; {@link StructOpsError} for an unknown member or a value that does not fit.
   */
  setStructOps(map: string, member: string, value: string | Uint8Array): this {
    if (this.loaded) throw new OpenApiError(this.file, `setStructOps('${map}') after load`);
    const m = this.spec.maps.find((x) => x.name === map);
    if (!m?.structOps) throw new LoadError(this.file, `no struct_ops map '${map}' (have: ${this.structOpsNames().join(', ') || 'none'})`);
    setStructOpsField(m, this.spec.btf!, member, value, this.file);
    return this;
  }

  /**
   * Register one struct_ops map (a link for `.struct_ops.link`, else a map update); unregistered on dispose.
   * @throws {@link LoadError}, {@link OpenApiError} as structOpsMap does; {@link StructOpsRegisterError} when the kernel refuses the registration.
   */
  registerStructOps(name: string): Link {
    const l = attachStructOps(this, name);
    this.links.push(l);
    return l;
  }

  /**
   * Attach every program that can attach from its section alone, and register every struct_ops map; on failure, detach those done.
   * @throws what Program.attach() and registerStructOps() throw, after detaching the links already made.
   */
  attachAll(opts: Record<string, AttachOptions> = {}): Link[] {
    const links: Link[] = [];
    try {
      for (const name of this.structOpsNames()) links.push(attachStructOps(this, name));
      for (const p of this.programs.values()) {
        if (!opts[p.name] && !canAutoAttach(p)) continue;
        links.push(p.attach(opts[p.name]));
      }
    } catch (e) {
      for (const l of links) l.close();
      throw e;
    }
    this.links.push(...links);
    return links;
  }

  /**
   * Remove the map pins load() created (pinMaps, LIBBPF_PIN_BY_NAME; reused pins stay), for a
   * caller that gives up on a loaded object, e.g. when pinning its programs fails.
   */
  discardNewPins(): void {
    for (const p of this.createdPins) fs.rmSync(p, { force: true });
    this.createdPins.length = 0;
  }

  /** Everything this object holds, closed. Pins stay (they are meant to outlive us). */
  close(): void {
    for (const l of this.links) l.close();
    this.links = [];
    for (const p of this.programs.values()) p.close();
    for (const dm of this.dataMaps.values()) {
      dm.mapping?.close();
      dm.mapping = undefined;
      dm.view = undefined;
    }
    for (const m of this.maps.values()) m.close();
    this.btfFd?.close();
    this.programs.clear();
    this.maps.clear();
    this.dataMaps.clear();
    this.loaded = false;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
