// Runs inside Debian's 6.1 kernel (npm run test:vm), which has XDP links but no TCX (6.6): a
// SEC("tc/egress") program attaches through netlink on its own (auto mode), and detaching
// removes the filter and the clsact qdisc it created.
import '../../src/syscall/native.js';
import { execSync } from 'node:child_process';
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { fixture, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const sh = (c: string) => execSync(c, { stdio: 'pipe', encoding: 'utf8' });

describe.skipIf(skip)('TC without TCX (Linux 6.1)', () => {
  it('tc/egress falls back to a netlink clsact filter that counts packets and goes away on close', async () => {
    sh('ip link set lo up');
    using o = BpfObject.open(fixture('attach.bpfel.o')).load();
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
    expect(() => o.program('count_tc').attach({ iface: 'lo', tcMode: 'tcx' })).toThrow(/TCX on ifindex 1: .*EINVAL/);
  });
});
