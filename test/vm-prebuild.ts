// The C builds the VM files make (clang-16 objects, gcc peers and test programs), run on the host
// by scripts/vm-test.mjs before it boots the VMs, so that test/build-cache.ts finds each of them
// there (the VM reads the host's cache over 9p and compiles nothing under CI=true). A test whose
// build call drifts from the call here finds no prebuilt entry in the VM and fails, naming it.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CACHE, cachedBuild, privateDir } from './build-cache.js';
import { LINKED, prebuildCoreReloc, selftestObjectStep } from './compat/selftests.js';
import { extractVmlinux } from './debian-kernels.js';
import { gccBuild, root } from './helpers.js';

export const LLVM = '/usr/lib/llvm-16';

/** The LLVM 16 disassembler peer of test/kernel/jited.test.ts (gcc against libLLVM and libbpf), at `out`. */
export function llvmJitedPeer(out: string): string {
  return gccBuild(path.join(root, 'test/peers/llvm-jited.c'), ['-O1', `-I${LLVM}/include`], out, [`-L${LLVM}/lib`, '-lLLVM-16', `-Wl,-rpath,${LLVM}/lib`, '-lbpf']);
}

/**
 * The vmlinux.h a VM's tests dump from its /sys/kernel/btf/vmlinux (`bpftool btf dump file ...
 * format c`), made here from the kernel image it boots: that file is the image's .BTF section, so
 * bpftool prints the same header. Kept in the cache by the image's sha256.
 */
function vmlinuxHeader(vmlinuz: string, tmp: string): Buffer {
  const dir = privateDir(path.join(CACHE, 'vmlinux-h'))!;
  const file = path.join(dir, `${crypto.createHash('sha256').update(fs.readFileSync(vmlinuz)).digest('hex').slice(0, 32)}.h`);
  if (fs.existsSync(file)) return fs.readFileSync(file);
  const elf = path.join(tmp, 'vmlinux');
  extractVmlinux(vmlinuz, elf);
  const h = execFileSync('bpftool', ['btf', 'dump', 'file', elf, 'format', 'c'], { maxBuffer: 1 << 28 });
  fs.rmSync(elf);
  fs.writeFileSync(`${file}.tmp`, h);
  fs.renameSync(`${file}.tmp`, file);
  return h;
}

/** Every build the VM files make, into the cache, for the kernel images `vmlinuz` (`tmp`: a private scratch dir). */
export function prebuildForVm(tmp: string, vmlinuz: readonly string[]): void {
  // test/kernel/loader.test.ts and attach-more.test.ts: the USDT test program.
  for (const opt of ['-O2', '-O0']) gccBuild(`${root}/test/probes/usdt_app.c`, [opt], path.join(tmp, `usdt${opt}`));
  llvmJitedPeer(path.join(tmp, 'llvm-jited'));
  prebuildCoreReloc();
  // test/kernel/gen-object.test.ts: the linker selftests against each VM kernel's vmlinux.h.
  for (const z of vmlinuz) {
    const h = vmlinuxHeader(z, tmp);
    for (const name of LINKED) cachedBuild(selftestObjectStep(name, h));
  }
}
