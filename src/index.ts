// bee-ts library entry point.
import './syscall/native.js';

export { Globals, type GlobalsHost } from './loader/globals.js';
export { BpfObject, Program, LoadError, type OpenOptions, type CoreRelocationReport } from './loader/object.js';
export type { OpenState } from './loader/open-api.js';
export { OpenMap, OpenProgram, OpenApiError } from './loader/open-api.js';
export { parseObject, SpecError, type ObjectSpec, type ProgramSpec, type MapSpec, type FunctionSpec, type ExternSpec, type ParseOptions, type DataSectionSpec, type RelocKind, type RelocSpec, type FuncInfoSpec, type LineInfoSpec, type CoreReloSpec, type DataKind, type VariableSpec } from './loader/spec.js';
export type { StructOpsSpec } from './maps/spec.js';
export { beeRoles, mapBeeRole, type BeeRole, type MapRole } from './bee/roles.js';
export { BpfMap } from './maps/map.js';
export { createMap, type CreateMapOptions } from './maps/create.js';
export type { MapTypes, MapDescription } from './maps/map.js';
export type { FlatDump } from './maps/dump.js';
export type { MapCreateAttr, TestRunOpts } from './syscall/bpf.js';
export type { BpfObjectKind } from './syscall/backend.js';
export { parseBtf, Btf, type BtfParseOptions, type BtfInit, type RawTypes } from './btf/btf.js';
export { CoreRelocKind, type BtfExt, type FuncInfo, type LineInfo, type CoreRelo } from './btf/ext.js';
export {
  BtfError,
  BtfKind,
  type BtfType,
  type BtfTypeOfKind,
  type Named,
  type VoidType,
  type IntType,
  type RefType,
  type ArrayType,
  type Member,
  type CompositeType,
  type EnumValue,
  type EnumType,
  type FwdType,
  type FuncType,
  type Param,
  type FuncProtoType,
  type VarType,
  type VarSecinfo,
  type DatasecType,
  type FloatType,
  type DeclTagType,
} from './btf/types.js';
export { dumpC, type CDumpOptions } from './btf/cdump.js';
export { dumpRaw } from './btf/raw.js';
export { BpfError } from './syscall/errno.js';
export { Fd } from './syscall/fd.js';
export { VerifierError, type SourceLine } from './loader/prog-load.js';
// AttachKind, AttachOptions and every hook's options interface (generated from the SEC() table).
export type * from './link/attach-api.js';
export type { TargetOption, AttachHook, AttachableProgram, AttachMap, AutoAttachRule } from './link/kinds.js';
export type { LwtRoute } from './link/lwt.js';
export type { SockMapTarget } from './link/sock.js';
export type { TcDirection } from './link/tc.js';
export type { TracepointOptions } from './link/tracepoint.js';
export { IterLink, type IterOptions } from './link/iter.js';
export type { NetfilterOptions } from './link/netfilter.js';
export type { AttachMode } from './link/sock.js';
export { closeAllLinks, closeLinksOnSignals, FATAL_SIGNALS, BaseLink, type Link, type LinkResources } from './link/link.js';
export { StructOpsError } from './loader/struct-ops.js';
export { LoadTargetError } from './loader/attach-target.js';
export * as constants from './syscall/constants.js';
export type { RecordReader, RawRecordHandler } from './ringbuf/reader.js';
export { RingBufReader, type RingBufOptions, type BatchHandler } from './ringbuf/ringbuf.js';
export { PerfBufReader, type PerfBufOptions, type PerfEvent } from './ringbuf/perfbuf.js';
export { asTypedMap, type TypedMap, type PerCpu } from './maps/typed.js';
export type { TypedRingBuf } from './ringbuf/typed.js';

// Errors: every one a BeeTsError (stable `code`, standard `cause`); each class a public method
// can throw is exported so callers can test for it with instanceof.
export { BeeTsError, NotSupportedError } from './errors.js';
export { MapIncompatibleError } from './maps/create.js';
export { CodecError } from './maps/codec.js';
export { ElfError } from './elf/reader.js';
export { AttachError } from './link/attach.js';
export { StructOpsRegisterError } from './link/struct-ops.js';
export { CoreError } from './loader/core-spec.js';
export { BtfLoadError } from './loader/btf-load.js';
export { NetlinkError } from './syscall/netlink.js';
export { InputFileError } from './syscall/files.js';
export { TracefsError } from './link/tracefs.js';
export { SymbolError } from './link/symbols.js';
export { UsdtError } from './link/usdt.js';
export { PinnedTypeError } from './syscall/bpf.js';
export { FdError } from './syscall/fd.js';
export { PlatformError } from './syscall/backend.js';
export { LinkError } from './link/link.js';
export { StaticLinkError } from './loader/linker-btf.js';
export { ReaderError } from './ringbuf/poller.js';
