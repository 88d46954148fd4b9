// The running kernel's BTF is held while loads use it and only weakly after KERNEL_BTF_HOLD_MS
// without a use (so a long-running `bee-ts run` gives its ~10 MiB back at a later full GC).
import fs from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KERNEL_BTF_HOLD_MS, kernelBtfHeld, vmlinuxBtf, VMLINUX_BTF } from '../src/loader/btf-files.js';
import { BtfKind } from '../src/btf/types.js';
import { need } from './helpers.js';

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
