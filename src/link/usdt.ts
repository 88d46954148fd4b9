// USDT probes (SystemTap SDT notes, `DTRACE_PROBE`/`STAP_PROBE` in C): find them in a binary's
// .note.stapsdt, turn their argument specs (`-4@%edi 8@-16(%rbp) -4@$5`) into
// struct __bpf_usdt_spec records for usdt.bpf.h, and compute the uprobe file offsets and the
// semaphore offsets (the kernel bumps a semaphore while a probe is attached, so `if (sema)`
// guarded probes start firing). x86-64 and arm64 argument syntax; the spec layout is libbpf's.
// The usdt hook attaches a program to every site of one probe.
import { BeeTsError, NotSupportedError } from '../errors.js';
import fs from 'node:fs';
import { type ElfFile, parseElf } from '../elf/reader.js';
import { sys } from '../syscall/backend.js';
import { cstr } from '../syscall/bpf.js';
import { BpfError, EINVAL } from '../syscall/errno.js';
import { pmu } from '../syscall/perf.js';
import { AttachError, type AttachableProgram, type AttachMap, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';
import { type PerfCookieOption, perfLink } from './perf.js';
import { resolveBinary } from './symbols.js';
import { uprobeScope } from './uprobe.js';

export class UsdtError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('USDT', message, options);
  }
}

export interface UsdtArg {
  /** 0 constant, 1 register, 2 register + offset, dereferenced. */
  type: 0 | 1 | 2;
  valOff: bigint;
  regOff: number;
  signed: boolean;
  bitshift: number;
}

export interface UsdtNote {
  provider: string;
  name: string;
  /** File offset of the probe instruction (where the uprobe goes). */
  offset: number;
  /** File offset of the semaphore, 0 when the probe has none. */
  semaOffset: number;
  argsText: string;
  args: UsdtArg[];
}

/** Offsets in x86-64 struct pt_regs, by register family (the kernel's order). */
const X86_REGS: Record<string, number> = { r15: 0, r14: 8, r13: 16, r12: 24, bp: 32, bx: 40, r11: 48, r10: 56, r9: 64, r8: 72, ax: 80, cx: 88, dx: 96, si: 104, di: 112, ip: 128, sp: 152 };

/** %rdi, %edi, %di, %dil → di; %r8, %r8d, %r8w, %r8b → r8; %rip → ip. */
function x86RegOffset(reg: string, spec: string): number {
  let r = reg.toLowerCase();
  const num = /^r(\d+)[dwb]?$/.exec(r);
  if (num) r = `r${num[1]}`;
  else if (/^[re]?(ax|bx|cx|dx|si|di|bp|sp|ip)$/.test(r)) r = r.replace(/^[re]/, '');
  else if (/^(a|b|c|d)[lh]$/.test(r)) r = `${r[0]}x`;
  else if (/^(si|di|bp|sp)l$/.test(r)) r = r.slice(0, 2);
  const off = X86_REGS[r];
  if (off === undefined) throw new UsdtError(`USDT argument '${spec}': register %${reg} is not supported`);
  return off;
}

/** arm64 struct user_pt_regs: regs[31], sp, pc. */
function arm64RegOffset(reg: string, spec: string): number {
  const r = reg.toLowerCase();
  if (r === 'sp') return 31 * 8;
  const m = /^[xw](\d+)$/.exec(r);
  if (m && Number(m[1]) <= 30) return Number(m[1]) * 8;
  throw new UsdtError(`USDT argument '${spec}': register ${reg} is not supported`);
}

/** arm64 syntax: `-4@x0`, `8@[sp, 16]`, `-4@[x29, -12]`, `8@[x1]`, constants bare (`-4@5`). */
function parseArm64(spec: string, signed: boolean, bitshift: number, loc: string): UsdtArg {
  let c: RegExpExecArray | null;
  if ((c = /^(-?(?:0x[0-9a-f]+|\d+))$/i.exec(loc))) return { type: 0, valOff: BigInt.asUintN(64, BigInt(c[1]!)), regOff: 0, signed, bitshift };
  if ((c = /^([xw]\d+|sp)$/i.exec(loc))) return { type: 1, valOff: 0n, regOff: arm64RegOffset(c[1]!, spec), signed, bitshift };
  if ((c = /^\[([xw]\d+|sp)(?:,\s*(-?(?:0x[0-9a-f]+|\d+)))?\]$/i.exec(loc)))
    return { type: 2, valOff: BigInt.asUintN(64, BigInt(c[2] ?? '0')), regOff: arm64RegOffset(c[1]!, spec), signed, bitshift };
  throw new UsdtError(`USDT argument '${spec}': location '${loc}' is not supported`);
}

/** One argument spec: `[-]SIZE@LOCATION` (x86-64 or arm64 syntax). */
export function parseUsdtArg(spec: string, arch = process.arch): UsdtArg {
  if (arch !== 'x64' && arch !== 'arm64') throw new UsdtError(`USDT arguments on ${arch} are not supported (x86-64 and arm64)`);
  const m = /^(-?)(1|2|4|8)@(.+)$/.exec(spec);
  if (!m) throw new UsdtError(`USDT argument '${spec}' is not SIZE@LOCATION`);
  const signed = m[1] === '-';
  const size = Number(m[2]);
  const loc = m[3]!;
  const bitshift = 64 - size * 8;
  if (arch === 'arm64') return parseArm64(spec, signed, bitshift, loc);
  let c: RegExpExecArray | null;
  if ((c = /^\$(-?(?:0x[0-9a-f]+|\d+))$/i.exec(loc))) return { type: 0, valOff: BigInt.asUintN(64, BigInt(c[1]!)), regOff: 0, signed, bitshift };
  if ((c = /^%(\w+)$/.exec(loc))) return { type: 1, valOff: 0n, regOff: x86RegOffset(c[1]!, spec), signed, bitshift };
  if ((c = /^(-?(?:0x[0-9a-f]+|\d+))?\(%(\w+)\)$/i.exec(loc)))
    return { type: 2, valOff: BigInt.asUintN(64, BigInt(c[1] ?? '0')), regOff: x86RegOffset(c[2]!, spec), signed, bitshift };
  throw new UsdtError(`USDT argument '${spec}': location '${loc}' is not supported (scaled-index addressing, segment registers)`);
}

/** struct __bpf_usdt_spec (208 bytes, little-endian x86-64). */
export function encodeUsdtSpec(args: UsdtArg[], cookie = 0n): Uint8Array {
  if (args.length > 12) throw new UsdtError(`a USDT probe with ${args.length} arguments (at most 12)`);
  const b = new Uint8Array(208);
  const dv = new DataView(b.buffer);
  args.forEach((a, i) => {
    const o = i * 16;
    dv.setBigUint64(o, a.valOff, true);
    dv.setUint32(o + 8, a.type, true);
    dv.setInt16(o + 12, a.regOff, true);
    dv.setUint8(o + 14, a.signed ? 1 : 0);
    dv.setInt8(o + 15, a.bitshift);
  });
  dv.setBigUint64(192, BigInt.asUintN(64, cookie), true);
  dv.setInt16(200, args.length, true);
  return b;
}

/** Virtual address → file offset, through the section that holds it. */
function fileOffset(elf: ElfFile, vaddr: bigint, what: string): number {
  for (const s of elf.sections) {
    if (s.addr === 0n || s.type === 8 /* NOBITS */) continue;
    if (vaddr >= s.addr && vaddr < s.addr + BigInt(s.size)) return Number(vaddr - s.addr) + s.offset;
  }
  throw new UsdtError(`${what}: address 0x${vaddr.toString(16)} is in no section of ${elf.file}`);
}

/** Every USDT probe in a binary. */
export function readUsdtNotes(binary: string): UsdtNote[] {
  const elf = parseElf(fs.readFileSync(binary), binary, { anyMachine: true, dynamic: false });
  const notes = elf.sectionByName('.note.stapsdt');
  if (!notes) return [];
  const base = elf.sectionByName('.stapsdt.base');
  const le = elf.littleEndian;
  const d = notes.data;
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const out: UsdtNote[] = [];
  const align4 = (n: number) => (n + 3) & ~3;
  for (let p = 0; p + 12 <= d.length; ) {
    const namesz = dv.getUint32(p, le);
    const descsz = dv.getUint32(p + 4, le);
    const type = dv.getUint32(p + 8, le);
    const nameStart = p + 12;
    const descStart = nameStart + align4(namesz);
    p = descStart + align4(descsz);
    if (p > d.length) break;
    const owner = new TextDecoder().decode(d.subarray(nameStart, nameStart + namesz)).replace(/\0+$/, '');
    if (owner !== 'stapsdt' || type !== 3 || descsz < 24) continue;
    const pc = dv.getBigUint64(descStart, le);
    const noteBase = dv.getBigUint64(descStart + 8, le);
    const sema = dv.getBigUint64(descStart + 16, le);
    const strs = new TextDecoder().decode(d.subarray(descStart + 24, descStart + descsz)).split('\0');
    const [provider = '', name = '', argsText = ''] = strs;
    // Prelinked or relocated binaries: shift by how far .stapsdt.base moved.
    const delta = base && noteBase ? base.addr - noteBase : 0n;
    const what = `USDT ${provider}:${name} in ${binary}`;
    const specs = argsText.trim() ? argsText.trim().split(/\s+/) : [];
    out.push({
      provider,
      name,
      offset: fileOffset(elf, pc + delta, what),
      semaOffset: sema ? fileOffset(elf, sema + delta, `${what} (semaphore)`) : 0,
      argsText,
      args: specs.map((s) => parseUsdtArg(s)),
    });
  }
  return out;
}

export interface UsdtOptions extends PerfCookieOption {
  /** Only this process (default: all). */
  pid?: number;
}

/** Spec ids handed out per __bpf_usdt_specs map (an object's USDT attachments share it). */
const usdtNextSpec = new WeakMap<object, number>();

/**
 * usdt (usdt.bpf.h): a uprobe on every site of `<binary>:<provider>:<name>`, each with its
 * argument spec in __bpf_usdt_specs under a fresh id that the attachment's BPF cookie carries.
 * Semaphores are bumped by the kernel (ref_ctr_offset) while attached.
 */
function attachUsdt(p: AttachableProgram, target: string, o: UsdtOptions): Link {
  const parts = target.split(':');
  if (parts.length < 3 || !parts.at(-1) || !parts.at(-2)) throw new AttachError(p.name, `usdt target '${target}' must be <binary>:<provider>:<name> (SEC("usdt/...") or { target })`);
  const name = parts.pop()!;
  const provider = parts.pop()!;
  let binary: string;
  let sites: UsdtNote[];
  try {
    binary = resolveBinary(parts.join(':'));
    const all = readUsdtNotes(binary);
    sites = all.filter((n) => n.provider === provider && n.name === name);
    if (!sites.length) {
      const have = [...new Set(all.map((n) => `${n.provider}:${n.name}`))];
      throw new AttachError(p.name, `no USDT probe ${provider}:${name} in ${binary} (${have.length ? `it has ${have.slice(0, 10).join(', ')}${have.length > 10 ? ', ...' : ''}` : 'it has no .note.stapsdt'})`);
    }
  } catch (e) {
    if (e instanceof AttachError) throw e;
    throw new AttachError(p.name, (e as Error).message, { cause: e });
  }
  let specs: AttachMap;
  try {
    specs = p.object.map('__bpf_usdt_specs');
  } catch {
    throw new AttachError(p.name, `the object has no __bpf_usdt_specs map: write the handler with BPF_USDT from usdt.bpf.h`);
  }
  const pm = pmu('uprobe');
  if (!pm) throw new AttachError(p.name, 'USDT needs the uprobe PMU (/sys/bus/event_source/devices/uprobe)');
  const refCtr = fs.existsSync('/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset');
  const links: Link[] = [];
  const { pid, cpu } = uprobeScope(o);
  try {
    for (const site of sites) {
      if (site.semaOffset && !refCtr) throw new AttachError(p.name, `USDT ${provider}:${name} has a semaphore, and this kernel's uprobe PMU has no ref_ctr_offset (4.20+)`);
      const id = usdtNextSpec.get(specs) ?? 0;
      if (id >= specs.maxEntries) throw new AttachError(p.name, `more than ${specs.maxEntries} USDT sites in one object (BPF_USDT_MAX_SPEC_CNT)`);
      usdtNextSpec.set(specs, id + 1);
      const key = new Uint8Array(4);
      new DataView(key.buffer).setInt32(0, id, true);
      specs.updateRaw(key, encodeUsdtSpec(site.args, o.cookie ?? 0n));
      const attr = { type: pm.type, config: BigInt(site.semaOffset) << 32n, config1: cstr(binary), config2: BigInt(site.offset) };
      links.push(perfLink(p, 'usdt', `${binary}:${provider}:${name}`, attr, pid, cpu, `usdt ${provider}:${name} at ${binary}+0x${site.offset.toString(16)}`, BigInt(id)));
    }
  } catch (e) {
    for (const l of links) l.close();
    if (e instanceof BpfError && e.errno === EINVAL && !links.length) throw new NotSupportedError('USDT (BPF cookies on perf-event links)', '5.15', sys().uname().release, `program '${p.name}': ${(e as Error).message}`, { cause: e });
    throw e;
  }
  return new BaseLink('usdt', p.name, `${binary}:${provider}:${name} (${sites.length} site${sites.length === 1 ? '' : 's'})`, undefined, {
    detach: () => {
      for (const l of links) l.close();
    },
  });
}

export const usdtHook = defineHook('usdt', 'target', attachUsdt);
