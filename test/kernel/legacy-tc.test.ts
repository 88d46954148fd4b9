// Legacy TC sections (SEC("tc"), SEC("classifier")) name no direction: given an interface and a
// direction they attach as TC (a TCX link, or a netlink clsact filter with tcMode 'netlink') on a
// veth the test makes, and count the packets sent out of it.
import '../../src/syscall/native.js';
import { execSync } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';
import { linkFeatures } from '../../src/syscall/features.js';

const skip = needKernel('6.6', 'TCX links', linkFeatures.tcx);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ns = `beeltc${process.pid}`;
const [a, b] = [`blt${process.pid % 10000}a`, `blt${process.pid % 10000}b`];

async function sendUntil(cond: () => boolean): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    for (let deadline = Date.now() + 15_000; !cond() && Date.now() < deadline; await sleep(50)) await new Promise<void>((r) => s.send('bee', 9, '10.218.0.2', () => r()));
  } finally {
    s.close();
  }
}

describe.skipIf(skip)('legacy TC sections', () => {
  beforeAll(() => {
    execSync(`ip netns add ${ns} && ip link add ${a} type veth peer name ${b} && ip link set ${b} netns ${ns}`, { stdio: 'pipe' });
    execSync(`ip addr add 10.218.0.1/24 dev ${a} && ip link set ${a} up && ip -n ${ns} addr add 10.218.0.2/24 dev ${b} && ip -n ${ns} link set ${b} up`, { stdio: 'pipe' });
  });
  afterAll(() => {
    execSync(`ip link del ${a} 2>/dev/null; ip netns del ${ns}`, { stdio: 'pipe' });
  });

  it('SEC("tc") with { iface, tcDirection: egress }: a TCX link that counts what leaves the veth', async () => {
    using o = BpfObject.open(fixture('legacy_tc.bpfel.o'), { autoload: ['count_tc_legacy'] }).load();
    expect(() => o.program('count_tc_legacy').attach()).toThrow(/no automatic attach point/);
    using l = o.program('count_tc_legacy').attach({ iface: a, tcDirection: 'egress' });
    expect(l.kind).toBe('tcx');
    await sendUntil(() => (o.globals.get('tc_hits') as bigint) >= 3n);
    expect(o.globals.get('tc_hits') as bigint).toBeGreaterThanOrEqual(3n);
  });

  it('SEC("classifier") with { iface, tcMode: netlink }: a clsact bpf filter tc shows, that counts', async () => {
    using o = BpfObject.open(fixture('legacy_tc.bpfel.o'), { autoload: ['count_classifier'] }).load();
    {
      using l = o.program('count_classifier').attach({ iface: a, tcMode: 'netlink', tcDirection: 'egress' });
      expect(l.kind).toBe('tc');
      expect(execSync(`tc filter show dev ${a} egress`, { encoding: 'utf8' })).toMatch(/bpf .*count_classifier.* direct-action/);
      await sendUntil(() => (o.globals.get('classifier_hits') as bigint) >= 3n);
      expect(o.globals.get('classifier_hits') as bigint).toBeGreaterThanOrEqual(3n);
    }
    expect(execSync(`tc filter show dev ${a} egress`, { encoding: 'utf8' })).not.toMatch(/count_classifier/);
  });
});
