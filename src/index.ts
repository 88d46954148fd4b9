// bee-ts library entry point.
import './syscall/native.js';

export { BpfObject, Program, Globals, LoadError, type OpenOptions, type CoreRelocationReport } from './loader/object.js';
export { OpenMap, OpenProgram, OpenApiError } from './loader/open-api.js';
export { parseObject, SpecError, type ObjectSpec, type ProgramSpec, type MapSpec } from './loader/spec.js';
export { BpfMap } from './maps/map.js';
export { createMap } from './maps/create.js';
export { compileCodec, type Codec } from './maps/codec.js';
export { parseElf, ElfError } from './elf/reader.js';
export { parseBtf, Btf } from './btf/btf.js';
export { BtfError, BtfKind } from './btf/types.js';
export { dumpC } from './btf/cdump.js';
export { dumpRaw } from './btf/raw.js';
export { BpfError } from './syscall/errno.js';
export { Fd } from './syscall/fd.js';
export { VerifierError } from './loader/prog-load.js';
export { attachProgram, AttachError } from './link/attach.js';
export type { AttachOptions } from './loader/sections.js';
export { closeAllLinks, closeLinksOnSignals, FATAL_SIGNALS, type Link } from './link/link.js';
export { attachStructOps, StructOpsRegisterError } from './link/struct-ops.js';
export { attachIter, IterLink, type IterOptions } from './link/iter.js';
export { attachNetfilter, type NetfilterOptions } from './link/netfilter.js';
export { attachNetns, attachSockMap, attachToSocket, type AttachMode } from './link/sock.js';
export { StructOpsError } from './loader/struct-ops.js';
export { LoadTargetError } from './loader/attach-target.js';
export * as constants from './syscall/constants.js';
export { RingBufReader, type RawRecordHandler, type RingBufOptions } from './ringbuf/ringbuf.js';
export { PerfBufReader, type PerfBufOptions } from './ringbuf/perfbuf.js';
export { compileDecoder } from './maps/decoder.js';
export { typedMap, type TypedMap, type PerCpu } from './maps/typed.js';
export type { TypedRingBuf } from './ringbuf/typed.js';

// Errors: every one a BeeTsError (stable `code`, standard `cause`); each class a public method
// can throw is exported so callers can test for it with instanceof.
export { BeeTsError, NotSupportedError } from './errors.js';
export { MapIncompatibleError } from './maps/create.js';
export { CodecError } from './maps/codec.js';
export { CoreError } from './loader/core.js';
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
export { ReaderError } from './ringbuf/poller.js';
