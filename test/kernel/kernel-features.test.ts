// Attach kinds this kernel may lack: where the kernel has the feature the event is observed;
// where it lacks it (its config, /proc/config.gz, says so when readable) the attach is refused
// with a NotSupportedError or an error naming the missing feature.
import '../../src/syscall/native.js';
import fs from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import { kconfigValue } from '../../src/loader/kconfig.js';
import { BpfObject } from '../../src/loader/object.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { fixture, kernelVersion, needKernel } from '../helpers.js';

const skip = needKernel();
/** true / false from the kernel config, undefined when the config cannot be read. */
function config(opt: string): boolean | undefined {
  if (kconfigValue('CONFIG_BPF') === undefined) return undefined;
  const v = kconfigValue(opt);
  return v !== undefined && v.value !== 0n;
}
const getppid = koffi.load('libc.so.6').func('int getppid()');

describe.skipIf(skip)('attach kinds that need kernel features', () => {
  it('kprobe.multi / kretprobe.multi / kprobe.session: events where the kernel has fprobe, else NotSupportedError naming CONFIG_FPROBE', () => {
    using o = BpfObject.open(fixture('kprobe_multi.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    let refused = 0;
    for (const name of ['multi_entry', 'multi_return', 'session']) {
      let l;
      try {
        l = o.program(name).attach();
      } catch (e) {
        expect(e).toBeInstanceOf(NotSupportedError);
        // Before 6.10 a session is refused for the version first (Debian 6.1: no fprobe either).
        const [major, minor] = kernelVersion();
        const beforeSessions = major < 6 || (major === 6 && minor < 10);
        expect((e as Error).message).toMatch(name === 'session' && beforeSessions ? /kprobe\.session links needs Linux 6\.10 or later/ : /CONFIG_FPROBE/);
        refused++;
        continue;
      }
      for (let i = 0; i < 3; i++) getppid();
      l.close();
    }
    if (refused) {
      expect(refused).toBe(3);
      expect(config('CONFIG_FPROBE')).not.toBe(true);
    } else {
      expect(o.globals.get('multi_hits')).toBe(3n);
      expect(o.globals.get('multi_ret_hits')).toBe(3n);
      expect(o.globals.get('session_entries')).toBe(3n);
      expect(o.globals.get('session_returns')).toBe(3n);
    }
  });

  it('ksyscall / kretsyscall: events where the kernel has kprobes (the VM suite), else the attach names CONFIG_KPROBES', () => {
    using o = BpfObject.open(fixture('ksyscall.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    if (fs.existsSync('/sys/bus/event_source/devices/kprobe')) {
      const links = o.attachAll();
      for (let i = 0; i < 3; i++) getppid();
      for (const l of links) l.close();
      expect([o.globals.get('sys_entries'), o.globals.get('sys_returns')]).toEqual([3n, 3n]);
      return;
    }
    expect(config('CONFIG_KPROBES')).not.toBe(true);
    expect(() => o.program('on_sys_entry').attach()).toThrow(/cannot attach kprobe __x64_sys_getppid: this kernel has no kprobes \(CONFIG_KPROBES/);
    expect(() => o.program('on_sys_return').attach()).toThrow(/cannot attach kretprobe __x64_sys_getppid: this kernel has no kprobes/);
  });

  it('fsession: events from 7.0; before, the load names BPF_TRACE_FSESSION and 7.0', () => {
    const [major] = kernelVersion();
    using o = BpfObject.open(fixture('fsession.bpfel.o'));
    if (major < 7) {
      expect(() => o.load()).toThrow(NotSupportedError);
      expect(() => o.load()).toThrow(/fsession programs \(BPF_TRACE_FSESSION\) needs Linux 7.0 or later \(this is .*\): program 'on_file_open': use an fentry and an fexit program/);
      return;
    }
    o.load();
    using _l = o.program('on_file_open').attach();
    for (let i = 0; i < 3; i++) fs.closeSync(fs.openSync('/proc/self/stat', 'r'));
    expect(o.globals.get('fsession_hits') as bigint).toBeGreaterThanOrEqual(6n); // entry and exit
  });

  it('the uprobe.session feature probe agrees with the kernel version (6.13+)', () => {
    const [major, minor] = kernelVersion();
    expect(linkFeatures.uprobeSession()).toBe(major > 6 || (major === 6 && minor >= 13));
  });

  it('netkit: on a device that is not netkit (or a kernel without netkit) the attach says so', () => {
    using o = BpfObject.open(fixture('netkit.bpfel.o')).load();
    expect(() => o.program('count_netkit').attach({ iface: 'lo' })).toThrow(/netkit/);
    if (config('CONFIG_NETKIT') === false) expect(() => o.program('count_netkit').attach({ iface: 'lo' })).toThrow(/CONFIG_NETKIT|netkit links needs Linux 6.7/);
  });
});
