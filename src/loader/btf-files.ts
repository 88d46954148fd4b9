// BTF from files: raw BTF (/sys/kernel/btf/*) or an ELF's .BTF section, and the running kernel's
// vmlinux BTF parsed once per process (CO-RE, ksyms, BTF of kernel objects, module bases).
import fs from 'node:fs';
import { type Btf, parseBtf } from '../btf/btf.js';
import { parseElf } from '../elf/reader.js';
import { readInputFile } from '../syscall/files.js';

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';

/** The BTF bytes of a raw BTF file or of an ELF file's .BTF section. */
export function readBtfBytes(path: string): Uint8Array {
  const bytes = readInputFile(path, 'BTF file');
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    const sec = parseElf(bytes, path, { anyMachine: true }).sectionByName('.BTF');
    if (!sec) throw new Error(`${path}: no .BTF section (compile with clang -g)`);
    return sec.data;
  }
  return bytes;
}

let vmlinuxCache: Btf | null | undefined;

/** The running kernel's BTF, parsed once; undefined when the kernel has none. */
export function vmlinuxBtf(): Btf | undefined {
  if (vmlinuxCache === undefined) {
    try {
      vmlinuxCache = parseBtf(fs.readFileSync(VMLINUX_BTF), { file: VMLINUX_BTF });
    } catch {
      vmlinuxCache = null;
    }
  }
  return vmlinuxCache ?? undefined;
}

/** BTF from a file; module BTF under /sys/kernel/btf is split BTF on top of vmlinux. */
export function readBtfFile(path: string, base?: Btf): Btf {
  const bytes = readBtfBytes(path);
  if (!base && path.startsWith('/sys/kernel/btf/') && path !== VMLINUX_BTF) base = vmlinuxBtf();
  if (path === VMLINUX_BTF && !base) {
    const k = vmlinuxBtf();
    if (k) return k;
  }
  return parseBtf(bytes, { file: path, base });
}
