// BTF from files: raw BTF (/sys/kernel/btf/*) or an ELF's .BTF section, and the running kernel's
// vmlinux BTF parsed once per process (CO-RE, ksyms, BTF of kernel objects, module bases), and the
// CO-RE targets: vmlinux (or a given file) and the modules' split BTF, each parsed once.
import fs from 'node:fs';
import nodePath from 'node:path';
import { type Btf, parseBtf, parseKernelBtf } from '../btf/btf.js';
import { parseElf } from '../elf/reader.js';
import { InputFileError, MAX_INPUT_FILE, readInputFile } from '../syscall/files.js';
import { Mapping } from '../syscall/mapping.js';
import type { CoreTargets } from './core.js';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** The BTF bytes of a raw BTF file or of an ELF file's .BTF section. */
export function readBtfBytes(path: string): Uint8Array {
  const bytes = readInputFile(path, 'BTF file');
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const sec = parseElf(bytes, path, { anyMachine: true }).sectionByName('.BTF');
    if (!sec) throw new InputFileError(path, 'no .BTF section (compile with clang -g)');
    return sec.data;
  }
  return bytes;
}

/**
 * How long the parsed kernel BTF (~10 MiB for vmlinux) stays held after its last use. Loads in a
 * row reuse it; after that only a WeakRef keeps it, so that a long-running process that has loaded
 * what it loads (`bee-ts run`) gives the memory back at a later full GC, and a later use takes it
 * from the WeakRef or parses again.
 */
export const KERNEL_BTF_HOLD_MS = 5000;
/** undefined: not held (never parsed, or released); null: the kernel has no BTF. */
let vmlinuxHeld: Btf | null | undefined;
let vmlinuxWeak: WeakRef<Btf> | undefined;
let holdUntil = 0;
let holdTimer: ReturnType<typeof setTimeout> | undefined;

/** The running kernel's BTF, parsed once and held while in use; undefined when the kernel has none. */
export function vmlinuxBtf(): Btf | undefined {
  if (vmlinuxHeld === undefined) {
    let k: Btf | null | undefined = vmlinuxWeak?.deref();
    if (!k) {
      try {
        k = parseMappedVmlinux() ?? parseKernelBtf(fs.readFileSync(VMLINUX_BTF), { file: VMLINUX_BTF });
        vmlinuxWeak = new WeakRef(k);
      } catch {
        k = null;
      }
    }
    vmlinuxHeld = k;
  }
  holdUntil = Date.now() + KERNEL_BTF_HOLD_MS;
  // One timer at a time (unref'd: it never keeps the process alive), re-armed for the time left.
  holdTimer ??= setTimeout(releaseWhenIdle, KERNEL_BTF_HOLD_MS).unref();
  return vmlinuxHeld ?? undefined;
}

/**
 * vmlinux BTF parsed where it lies, when the kernel maps /sys/kernel/btf/vmlinux (Linux 6.16+):
 * the words are a view of the kernel's pages, so the 5+ MiB are neither read (~1350 read(2)s of
 * 4 KiB, 10-20 ms of a first CO-RE load's CPU here) nor copied onto the heap. The mapping goes
 * when the Btf (every view of it) is collected. Undefined when it cannot be mapped or does not
 * parse (a size sysfs got wrong): the caller reads the file.
 */
function parseMappedVmlinux(): Btf | undefined {
  const m = Mapping.readOnlyFile(VMLINUX_BTF, MAX_INPUT_FILE);
  if (!m) return undefined;
  try {
    return parseKernelBtf(new Uint8Array(m.buffer), { file: VMLINUX_BTF });
  } catch {
    return undefined;
  }
}

function releaseWhenIdle(): void {
  const left = holdUntil - Date.now();
  if (left > 0) {
    holdTimer = setTimeout(releaseWhenIdle, left).unref();
    return;
  }
  holdTimer = undefined;
  vmlinuxHeld = undefined;
  // Module BTF is split BTF on top of vmlinux: it holds vmlinux as its base.
  moduleCache.clear();
}

/** @internal For tests: whether the kernel BTF is held now (not only weakly). */
export function kernelBtfHeld(): boolean {
  return vmlinuxHeld !== undefined;
}

/** BTF from a file; module BTF under /sys/kernel/btf is split BTF on top of vmlinux. */
export function readBtfFile(path: string, base?: Btf): Btf {
  if (path === VMLINUX_BTF && !base) {
    const k = vmlinuxBtf();
    if (k) return k;
  }
  const bytes = readBtfBytes(path);
  if (!base && path.startsWith('/sys/kernel/btf/') && path !== VMLINUX_BTF) base = vmlinuxBtf();
  // The kernel checked its own BTF (vmlinux at boot, a module's when it loaded): only the walk runs.
  const kernel = nodePath.dirname(nodePath.resolve(path)) === '/sys/kernel/btf';
  return (kernel ? parseKernelBtf : parseBtf)(bytes, { file: path, base });
}

// ---- kernel BTF for CO-RE, cached per process ----

const moduleCache = new Map<string, Btf | null>();

/** The CO-RE/ksym target: the running kernel's BTF, or a user-given file (e.g. BTFHub). */
export function kernelBtf(file = VMLINUX_BTF): Btf | undefined {
  return file === VMLINUX_BTF ? vmlinuxBtf() : readBtfFile(file);
}

export function coreTargets(btfPath?: string): CoreTargets {
  return {
    *btfs() {
      const base = btfPath ? kernelBtf(btfPath) : kernelBtf();
      if (!base) return;
      yield { name: 'vmlinux', btf: base };
      if (btfPath) return;
      // Modules, lazily; a broken module BTF is skipped rather than fatal.
      let mods: string[] = [];
      try {
        mods = fs.readdirSync('/sys/kernel/btf').filter((m) => m !== 'vmlinux');
      } catch {
        return;
      }
      for (const m of mods) {
        let b = moduleCache.get(m);
        if (b === undefined) {
          try {
            b = readBtfFile(`/sys/kernel/btf/${m}`, base);
          } catch {
            b = null;
          }
          moduleCache.set(m, b);
        }
        if (b) yield { name: m, btf: b };
      }
    },
  };
}
