// Runs inside Debian's kernels (npm run test:vm). 6.1 has XDP links but no TCX (6.6): a
// SEC("tc/egress") program attaches through netlink on its own (auto mode), and detaching removes
// the filter and the clsact qdisc it created. 6.12 attaches it as a TCX link.
import '../../src/syscall/native.js';
import { execSync } from 'node:child_process';
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { linuxKernelVersion } from '../../src/loader/kconfig.js';
import { BpfObject } from '../../src/loader/object.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { fixture, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const sh = (c: string) => execSync(c, { stdio: 'pipe', encoding: 'utf8' });

describe.skipIf(skip)('TC with and without TCX (Debian 6.1: netlink; 6.12: TCX links)', () => {
  it('tc/egress attaches through TCX where the kernel has it (6.6+), else falls back to a netlink clsact filter; it counts packets and goes away on close', async () => {
    sh('ip link set lo up');
    using o = BpfObject.open(fixture('attach.bpfel.o')).load();
    if (linuxKernelVersion() >= ((6 << 16) | (6 << 8))) {
      // The kernel's own feature probes agree: TCX and uprobe.multi links exist from 6.6.
      expect(linkFeatures.tcx()).toBe(true);
      expect(linkFeatures.uprobeMulti()).toBe(true);
      using tcx = o.program('count_tc').attach({ iface: 'lo' });
      expect(tcx.kind).toBe('tcx');
      expect(sh('tc filter show dev lo egress').trim()).toBe('');
      const s = dgram.createSocket('udp4');
      for (let i = 0; i < 3; i++) await new Promise<void>((r) => s.send('x', 9, '127.0.0.1', () => r()));
      s.close();
      expect(o.globals.get('tc_hits') as bigint).toBeGreaterThanOrEqual(3n);
      return;
    }
    const tc = o.program('count_tc').attach({ iface: 'lo' });
    expect(tc.kind).toBe('tc');
    expect(sh('tc filter show dev lo egress')).toMatch(/bpf .*count_tc.* direct-action/);
    const s = dgram.createSocket('udp4');
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => s.send('x', 9, '127.0.0.1', () => r()));
    s.close();
    expect(o.globals.get('tc_hits') as bigint).toBeGreaterThanOrEqual(3n);
    tc.close();
    expect(sh('tc filter show dev lo egress').trim()).toBe('');
    expect(sh('tc qdisc show dev lo')).not.toContain('clsact');
    // feature probe says so too: no TCX links, no uprobe.multi (6.6), no kprobe.multi (no FPROBE here).
    expect(linkFeatures.tcx()).toBe(false);
    expect(linkFeatures.uprobeMulti()).toBe(false);
    expect(linkFeatures.kprobeMulti()).toBe(false);
    // Asking for TCX explicitly on this kernel is an error, not a silent fallback.
    expect(() => o.program('count_tc').attach({ iface: 'lo', tcMode: 'tcx' })).toThrow(/TCX links needs Linux 6\.6 or later .*TCX on ifindex 1: .*EINVAL/);
  });
});
