// Object BTF → kernel: rewrite a copy for what this kernel lacks (libbpf's sanitizing rules),
// encode it, BTF_LOAD it, and on failure report the kernel's BTF log.
import type { Btf } from '../btf/btf.js';
import { encodeBtf } from '../btf/encode.js';
import { BtfKind, type BtfType, FUNC_EXTERN, FUNC_GLOBAL, FUNC_STATIC, VAR_EXTERN, VAR_GLOBAL } from '../btf/types.js';
import { btfLoadRaw } from '../syscall/bpf.js';
import { BpfError, ENOSPC } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { btfFeatures } from './btf-features.js';

export interface BtfSupport {
  datasec: boolean;
  func: boolean;
  funcGlobal: boolean;
  float: boolean;
  declTag: boolean;
  typeTag: boolean;
  enum64: boolean;
}

export function probeBtfSupport(): BtfSupport {
  return {
    datasec: btfFeatures.datasec(),
    func: btfFeatures.func(),
    funcGlobal: btfFeatures.funcGlobal(),
    float: btfFeatures.float(),
    declTag: btfFeatures.declTag(),
    typeTag: btfFeatures.typeTag(),
    enum64: btfFeatures.enum64(),
  };
}

export const FULL_BTF_SUPPORT: BtfSupport = { datasec: true, func: true, funcGlobal: true, float: true, declTag: true, typeTag: true, enum64: true };

/**
 * libbpf's fix-up of the `.ksyms` DATASEC, which clang leaves unloadable (size 0, void VARs, extern
 * FUNCs whose params may be unnamed): every entry becomes a 4-byte slot (offset 4·i) of a 32-bit
 * int; a VAR is retyped to that int and made a global; a FUNC entry is replaced in the DATASEC by a
 * `dummy_ksym` VAR (appended), the FUNC becomes global and its unnamed params borrow that name.
 * Returns the rewritten types by id, plus the appended VAR.
 */
function ksymsFixups(btf: Btf): { replace: Map<number, BtfType>; append: BtfType[] } {
  const replace = new Map<number, BtfType>();
  const append: BtfType[] = [];
  const sec = btf.types.find((t) => t.kind === BtfKind.Datasec && t.name === '.ksyms');
  if (!sec || sec.kind !== BtfKind.Datasec) return { replace, append };
  const intId = btf.types.findIndex((t) => t.kind === BtfKind.Int && t.bits === 32);
  const int = intId > 0 ? intId : 0;
  const hasFunc = sec.vars.some((v) => btf.typeById(v.type).kind === BtfKind.Func);
  const dummyId = btf.types.length;
  if (hasFunc) append.push({ kind: BtfKind.Var, id: dummyId, name: 'dummy_ksym', type: int, linkage: VAR_GLOBAL });
  const vars = sec.vars.map((v, i) => {
    const t = btf.typeById(v.type);
    if (t.kind === BtfKind.Func) {
      replace.set(t.id, { ...t, linkage: FUNC_GLOBAL });
      const proto = btf.typeById(t.type);
      if (proto.kind === BtfKind.FuncProto && proto.params.some((p) => p.type && !p.name))
        replace.set(proto.id, { ...proto, params: proto.params.map((p) => (p.type && !p.name ? { ...p, name: 'dummy_ksym' } : p)) });
      return { type: dummyId, offset: 4 * i, size: 4 };
    }
    if (t.kind === BtfKind.Var) replace.set(t.id, { ...t, type: int, linkage: VAR_GLOBAL });
    return { type: v.type, offset: 4 * i, size: 4 };
  });
  replace.set(sec.id, { ...sec, size: 4 * vars.length, vars });
  return { replace, append };
}

/** A sanitized copy of the types (ids unchanged, a VAR may be appended), rewriting what the kernel does not accept. */
export function sanitizeBtf(btf: Btf, s: BtfSupport): BtfType[] {
  const ksyms = s.datasec ? ksymsFixups(btf) : { replace: new Map<number, BtfType>(), append: [] };
  const fixed = btf.types.map((t) => ksyms.replace.get(t.id) ?? t).concat(ksyms.append);
  return fixed.map((t): BtfType => {
    switch (t.kind) {
      case BtfKind.Var:
        if (!s.datasec) return { kind: BtfKind.Int, id: t.id, name: t.name, size: 1, encoding: 0, bitOffset: 0, bits: 8 };
        // The kernel accepts only static and allocated globals: externs (kconfig, ksyms) become globals.
        if (t.linkage === VAR_EXTERN) return { ...t, linkage: VAR_GLOBAL };
        return t;
      case BtfKind.Datasec:
        if (!s.datasec)
          return {
            kind: BtfKind.Struct,
            id: t.id,
            name: t.name.replace(/[.?]/g, '_'),
            size: t.size,
            kflag: false,
            members: t.vars.map((v) => ({ name: btf.typeById(v.type).name, type: v.type, bitOffset: v.offset * 8, bitfieldSize: 0 })),
          };
        // Newer clang emits '?' in some section names; old kernels reject it.
        return t.name.includes('?') ? { ...t, name: t.name.replace(/\?/g, '_') } : t;
      case BtfKind.Func:
        if (!s.func) return { kind: BtfKind.Typedef, id: t.id, name: t.name, type: t.type };
        // Extern function declarations (kfuncs) are not loadable: make them static.
        if (t.linkage === FUNC_EXTERN) return { ...t, linkage: FUNC_STATIC };
        if (!s.funcGlobal && t.linkage !== FUNC_STATIC) return { ...t, linkage: FUNC_STATIC };
        return t;
      case BtfKind.FuncProto:
        if (!s.func)
          return { kind: BtfKind.Enum, id: t.id, name: '', size: 4, signed: false, values: t.params.map((p, i) => ({ name: p.name || `__p${i}`, value: 0n })) };
        return t;
      case BtfKind.Float:
        if (!s.float) return { kind: BtfKind.Struct, id: t.id, name: '', size: t.size, kflag: false, members: [] };
        return t;
      case BtfKind.DeclTag:
        if (!s.declTag) return { kind: BtfKind.Int, id: t.id, name: '', size: 1, encoding: 0, bitOffset: 0, bits: 8 };
        return t;
      case BtfKind.TypeTag:
        if (!s.typeTag) return { kind: BtfKind.Const, id: t.id, name: '', type: t.type };
        return t;
      case BtfKind.Enum64:
        if (!s.enum64) return { kind: BtfKind.Union, id: t.id, name: t.name, size: t.size, kflag: false, members: [] };
        return t;
      case BtfKind.Enum:
        if (!s.enum64 && t.signed) return { ...t, signed: false };
        return t;
      default:
        return t;
    }
  });
}

export class BtfLoadError extends BpfError {
  constructor(
    errno: number,
    readonly log: string,
    subject?: string,
  ) {
    super('BPF_BTF_LOAD', errno, subject, undefined, log ? `BTF log (last lines):\n${log.trimEnd().split('\n').slice(-8).join('\n')}` : undefined);
    this.name = 'BtfLoadError';
  }
}

/** Load types into the kernel; on failure, retry with a growing log and throw BtfLoadError. */
export function loadBtfTypes(types: readonly BtfType[], subject?: string, seedStrings?: Uint8Array): Fd {
  const blob = encodeBtf(types, true, seedStrings);
  const fd = btfLoadRaw(blob);
  if (fd >= 0) return new Fd(fd, 'btf');
  let size = 64 * 1024;
  for (let attempt = 0; attempt < 8; attempt++, size *= 4) {
    const log = Buffer.alloc(size);
    const r = btfLoadRaw(blob, log, 1);
    if (r >= 0) return new Fd(r, 'btf'); // a transient failure
    if (-r === ENOSPC) continue;
    const z = log.indexOf(0);
    throw new BtfLoadError(-r, log.subarray(0, z < 0 ? log.length : z).toString('utf8'), subject);
  }
  throw new BtfLoadError(-fd, '', subject);
}

export function loadObjectBtf(btf: Btf, support: BtfSupport = probeBtfSupport(), subject?: string): Fd {
  // Keep the object's string section as-is: line_info records point into it.
  return loadBtfTypes(sanitizeBtf(btf, support), subject, btf.stringSection);
}
