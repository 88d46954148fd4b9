// The running kernel's BTF is held while loads use it and only weakly after KERNEL_BTF_HOLD_MS
// without a use (so a long-running `bee-ts run` gives its ~10 MiB back at a later full GC); on
// kernels that map /sys/kernel/btf/vmlinux the parse reads the mapped pages (Mapping.readOnlyFile).
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KERNEL_BTF_HOLD_MS, kernelBtfHeld, vmlinuxBtf, VMLINUX_BTF } from '../src/loader/btf-files.js';
import { parseKernelBtf } from '../src/btf/btf.js';
import { BtfKind } from '../src/btf/types.js';
import { useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { MAX_INPUT_FILE } from '../src/syscall/files.js';
import { Mapping } from '../src/syscall/mapping.js';
import '../src/syscall/native.js';
import { kernelVersion, need } from './helpers.js';

describe('kernel BTF hold', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the same parse while in use, released after the hold time without a use, parsed or revived on the next use', () => {
    if (need(fs.existsSync(VMLINUX_BTF), `${VMLINUX_BTF} is missing`)) return;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    // A timer armed before the fake clock (another test's use) is ended first.
    vi.advanceTimersByTime(KERNEL_BTF_HOLD_MS + 1);
    const k = vmlinuxBtf()!;
    expect(k.count).toBeGreaterThan(1000);
    expect(kernelBtfHeld()).toBe(true);
    // Uses inside the window keep it held past the first deadline.
    vi.advanceTimersByTime(KERNEL_BTF_HOLD_MS - 10);
    expect(vmlinuxBtf()).toBe(k);
    vi.advanceTimersByTime(KERNEL_BTF_HOLD_MS - 10);
    expect(kernelBtfHeld()).toBe(true);
    // A whole window without a use: only the WeakRef is left.
    vi.advanceTimersByTime(20);
    expect(kernelBtfHeld()).toBe(false);
    const again = vmlinuxBtf()!;
    expect(again.count).toBe(k.count);
    expect(again.find('task_struct', BtfKind.Struct)?.id).toBe(k.find('task_struct', BtfKind.Struct)?.id);
    expect(kernelBtfHeld()).toBe(true);
  });
});

describe('kernel BTF mapped in place', () => {
  it('maps /sys/kernel/btf/vmlinux read-only where the kernel allows it (Linux 6.16+): the same bytes and the same parse as reading it', () => {
    if (need(fs.existsSync(VMLINUX_BTF), `${VMLINUX_BTF} is missing`)) return;
    const m = Mapping.readOnlyFile(VMLINUX_BTF, MAX_INPUT_FILE);
    const [major, minor] = kernelVersion();
    if (major > 6 || (major === 6 && minor >= 16)) expect(m).toBeDefined();
    if (!m) return;
    const read = fs.readFileSync(VMLINUX_BTF);
    const mapped = new Uint8Array(m.buffer);
    expect(mapped.length).toBe(read.length);
    expect(Buffer.compare(Buffer.from(m.buffer), read)).toBe(0);
    const a = parseKernelBtf(mapped, { file: VMLINUX_BTF });
    const b = parseKernelBtf(read, { file: VMLINUX_BTF });
    expect(a.count).toBe(b.count);
    const id = b.find('task_struct', BtfKind.Struct)!.id;
    expect(a.typeById(id)).toEqual(b.typeById(id));
    expect(a.ownIdsByEssentialName('sk_buff', BtfKind.Struct)).toEqual(b.ownIdsByEssentialName('sk_buff', BtfKind.Struct));
  });

  it('gives undefined (the caller reads) for a file it cannot map and under a fake backend', () => {
    // procfs reports size 0 and has no mmap.
    expect(Mapping.readOnlyFile('/proc/self/stat', MAX_INPUT_FILE)).toBeUndefined();
    expect(Mapping.readOnlyFile('/nonexistent/bee-ts', MAX_INPUT_FILE)).toBeUndefined();
    if (fs.existsSync(VMLINUX_BTF)) expect(Mapping.readOnlyFile(VMLINUX_BTF, 4096)).toBeUndefined();
    const restore = useBackend(new FakeBackend());
    try {
      expect(Mapping.readOnlyFile(VMLINUX_BTF, MAX_INPUT_FILE)).toBeUndefined();
    } finally {
      restore();
    }
  });
});
