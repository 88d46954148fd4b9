// Attach kinds whose section names no attach type, and the rest of the SEC() table's odd ones, on
// this kernel: SEC("sk_skb") and SEC("cgroup/skb") (libbpf: SEC_NONE, no automatic attach; the
// caller names the hook), usdt.s, struct_ops.s (bpf_dummy_ops's sleepable member, run by the
// kernel's struct_ops trampoline), lwt_seg6local (an SRv6 End.BPF route) and TC actions
// (act_bpf, refused naming the config this kernel lacks). Each counts only its own traffic: a
// socket or port of the test's, a binary it built, a network namespace it made.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import { cgroup2Root } from '../../src/link/cgroup.js';
import { kernelConfig } from '../../src/loader/kconfig.js';
import { BpfObject } from '../../src/loader/object.js';
import { sys } from '../../src/syscall/backend.js';
import { AttachType, ProgType } from '../../src/syscall/constants.js';
import { linkInfo } from '../../src/syscall/info.js';
import { fixture, gccBuild, need, needKernel, root, tcpPair, waitUntil } from '../helpers.js';

const skip = needKernel('6.6', 'the attach kinds of this file');
const sh = (c: string) => execFileSync('sh', ['-c', c], { stdio: 'pipe', encoding: 'utf8' });
const bpftoolLink = (id: number) => JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'id', String(id)], { encoding: 'utf8' })) as { attach_type?: string; prog_id?: number };

/** A bound UDP socket of the test's (its port unique on this host while it lives). */
async function udpReceiver(): Promise<{ sock: dgram.Socket; port: number; got: () => number }> {
  const sock = dgram.createSocket('udp4');
  let n = 0;
  sock.on('message', () => n++);
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { sock, port: sock.address().port, got: () => n };
}

async function sendUdp(port: number, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < n; i++) await new Promise<void>((r, j) => s.send('bee', port, '127.0.0.1', (e) => (e ? j(e) : r())));
  } finally {
    s.close();
  }
}

describe.skipIf(skip)('attach kinds with no attach type, and the other odd ones', () => {
  it('SEC("sk_skb") (no hook): no attach of its own, like libbpf; with setType(SK_SKB, SK_SKB_STREAM_VERDICT) it sees every byte a socket in the sockmap receives', async () => {
    {
      using o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['bare_skb'] }).load();
      expect(o.program('bare_skb').expectedAttachType ?? 0).toBe(0);
      expect(o.attachAll()).toEqual([]); // never automatic
      expect(() => o.program('bare_skb').attach()).toThrow(/section 'sk_skb' names no sockmap hook.*setType\(ProgType\.SK_SKB, AttachType\.SK_SKB_STREAM_VERDICT\)/);
    }
    const o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['bare_skb'] });
    o.programSpec('bare_skb').setType(ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT);
    using _o = o.load();
    using l = o.program('bare_skb').attach({ map: o.map('bare_map') });
    expect(l.kind).toBe('sockmap');
    const conn = await tcpPair();
    try {
      o.map('bare_map').update(0, conn.fd);
      const data = Buffer.alloc(20_000 + (process.pid % 1000), 0x42);
      expect((await conn.send(data)).length).toBe(data.length);
      expect(o.globals.get('bare_skb_bytes')).toBe(BigInt(data.length));
      expect(o.globals.get('bare_skb_calls') as bigint).toBeGreaterThanOrEqual(1n);
    } finally {
      conn.close();
    }
  });

  it('SEC("cgroup/skb") (no attach type): refused with no cgroup, like libbpf; given one it attaches at ingress (attach type 0, as bpf_program__attach_cgroup), or at egress once setType says so — bpftool shows which', async () => {
    if (need(fs.existsSync(`${cgroup2Root()}/cgroup.procs`), 'cgroup v2 is not mounted')) return;
    const rx = await udpReceiver();
    try {
      for (const [dir, attachType] of [['ingress', undefined], ['egress', AttachType.CGROUP_INET_EGRESS]] as const) {
        const o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['bare_cgroup_skb'] });
        o.setConstant('udp_port', rx.port);
        if (attachType !== undefined) o.programSpec('bare_cgroup_skb').setType(ProgType.CGROUP_SKB, attachType);
        using _o = o.load();
        expect(o.attachAll()).toEqual([]);
        expect(() => o.program('bare_cgroup_skb').attach()).toThrow(/section 'cgroup\/skb' names no attach type.*pass \{ cgroup:/);
        {
          using l = o.program('bare_cgroup_skb').attach({ cgroup: cgroup2Root() });
          const id = linkInfo((l as unknown as { fd: { value: number } }).fd.value).id;
          expect(bpftoolLink(id).attach_type).toBe(`cgroup_inet_${dir}`);
          const before = rx.got();
          await sendUdp(rx.port, 4);
          await waitUntil(() => rx.got() >= before + 4);
          expect(o.globals.get('cgroup_skb_hits'), dir).toBe(4n);
        }
        await sendUdp(rx.port, 2);
        expect(o.globals.get('cgroup_skb_hits'), `${dir}, after close`).toBe(4n);
      }
    } finally {
      rx.sock.close();
    }
  });

  it('usdt.s: a sleepable USDT program runs at every tick of a binary the test builds and copies its stack with bpf_copy_from_user', () => {
    if (need(fs.existsSync('/usr/include/x86_64-linux-gnu/sys/sdt.h') || fs.existsSync('/usr/include/sys/sdt.h'), 'sys/sdt.h missing: apt-get install systemtap-sdt-dev')) return;
    const dir = fs.mkdtempSync(`${os.tmpdir()}/bee-usdts-`);
    try {
      const bin = `${dir}/app`;
      gccBuild(`${root}/test/probes/usdt_app.c`, ['-O2'], bin);
      using o = BpfObject.open(fixture('usdt.bpfel.o'), { autoload: ['s_on_tick'] }).load();
      {
        using l = o.program('s_on_tick').attach({ target: `${bin}:beets:tick` });
        expect(l.kind).toBe('usdt');
        execFileSync(bin, ['5']);
      }
      expect([o.globals.get('s_ticks'), o.globals.get('s_copied'), o.globals.get('s_sum_i')]).toEqual([5n, 5n, 10n]);
      execFileSync(bin, ['2']);
      expect(o.globals.get('s_ticks')).toBe(5n);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('struct_ops.s: bpf_dummy_ops.test_sleepable, run by the kernel through its struct_ops trampoline, copies user memory with a sleepable-only kfunc; registering bpf_dummy_ops is the kernel\'s refusal', () => {
    const value = `bee-${process.pid}`;
    const buf = Buffer.from(`${value}\0`);
    const o = BpfObject.open(fixture('struct_ops_sleepable.bpfel.o'));
    o.setConstant('user_addr', sys().addressOf(buf));
    using _o = o.load();
    const p = o.program('test_sleepable');
    expect(p.typeName).toBe('struct_ops');
    // One argument: a pointer to a struct bpf_dummy_ops_state (an int) in user memory, which the kernel copies in.
    const state = Buffer.alloc(8);
    const ctxIn = new Uint8Array(8);
    new DataView(ctxIn.buffer).setBigUint64(0, sys().addressOf(state), true);
    for (let i = 0; i < 3; i++) expect(p.testRun({ ctxIn }).retval).toBe(7);
    expect([o.globals.get('sleepable_hits'), o.globals.get('sleepable_copied')]).toEqual([3n, value]);
    expect(() => o.registerStructOps('bee_dummy')).toThrow(/cannot register bpf_dummy_ops.*EOPNOTSUPP|ENOTSUPP|EOPNOTSUPP/);
    expect(buf.length + state.length).toBe(value.length + 9);
  });

  it('lwt_seg6local: an SRv6 End.BPF route to an address of the test\'s runs the program for every packet arriving with it as the active segment, and goes on close (a kernel whose config lacks SRv6 routes: a NotSupportedError naming it, and no route)', () => {
    // Addresses of this process only (fc00::/7 is unique-local, never routed here).
    const pre = `fc00:bee:${(0xb000 | ((process.pid >> 12) & 0xfff)).toString(16)}:${(0xb000 | (process.pid & 0xfff)).toString(16)}`;
    const [end1, end2, dst, src] = [`${pre}::1`, `${pre}::2`, `${pre}::100`, `${pre}::a`];
    const ns = `bee-s6-${process.pid}`;
    const [va, vb] = [`bs6${process.pid % 100000}a`, `bs6${process.pid % 100000}b`];
    const routes = () => sh(`ip -6 route show ${end1}/128`).trim();
    const config = kernelConfig();
    if (config.get('CONFIG_IPV6_SEG6_LWTUNNEL') !== 'y') {
      // Some hosts' kernels are built without SRv6 routes (seen: 6.18.44-fc-v1272; the kernel's
      // RTM_NEWROUTE answers EOPNOTSUPP): the attach says which config it needs, and adds nothing.
      expect(config.size).toBeGreaterThan(100);
      using o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_seg6'] }).load();
      const attach = () => o.program('count_seg6').attach({ lwt: { route: `${end1}/128`, dev: 'lo' } });
      expect(attach).toThrow(NotSupportedError);
      expect(attach).toThrow(/SRv6 End\.BPF routes \(CONFIG_IPV6_SEG6_LWTUNNEL, CONFIG_IPV6_SEG6_BPF\).*seg6local route .* dev lo/);
      expect(routes()).toBe('');
      return;
    }
    // seg6local routes act on packets received (input), so the traffic comes from a netns over a
    // veth: there, datagrams to dst get an outer header to end1 with the segment list [end1, end2].
    sh(`ip netns add ${ns}`);
    try {
      sh(`ip link add ${va} type veth peer name ${vb} && ip link set ${vb} netns ${ns} && ip link set ${va} up`);
      const mac = sh(`cat /sys/class/net/${va}/address`).trim();
      const x = (c: string) => sh(`ip -n ${ns} ${c}`);
      x(`link set lo up`);
      x(`link set ${vb} up`);
      x(`-6 addr add ${src}/128 dev ${vb} nodad`);
      x(`-6 route add ${end1}/128 dev ${vb}`);
      x(`-6 neigh add ${end1} lladdr ${mac} dev ${vb} nud permanent`);
      x(`-6 route add ${dst}/128 encap seg6 mode encap segs ${end1},${end2} dev ${vb}`);
      using o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_seg6'] }).load();
      {
        using l = o.program('count_seg6').attach({ lwt: { route: `${end1}/128`, dev: va } });
        expect([l.kind, l.target]).toEqual(['lwt', `${end1}/128 dev ${va} seg6local End.BPF`]);
        // iproute2 reads the route back as the one `ip -6 route add ... encap seg6local action End.BPF endpoint fd N` makes.
        expect(routes()).toMatch(new RegExp(`^${end1} +encap seg6local action End\\.BPF endpoint count_seg6.* dev ${va}`));
        const send = `const s=require('dgram').createSocket('udp6');let n=0;const go=()=>s.send('seg6',9,'${dst}',()=>{if(++n<5)go();else s.close()});go();`;
        execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', send], { stdio: 'ignore' });
        expect(o.globals.get('seg6_hits')).toBe(5n);
      }
      expect(routes()).toBe('');
    } finally {
      sh(`ip link del ${va} 2>/dev/null || true; ip netns del ${ns}`);
    }
  });

  it('lirc_mode2 and TC actions where this kernel lacks them (its config says so): a NotSupportedError naming the config, and nothing left behind', () => {
    const config = kernelConfig();
    const has = (k: string) => config.get(k) === 'y' || config.get(k) === 'm';
    if (!has('CONFIG_BPF_LIRC_MODE2')) {
      const o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_lirc'] });
      expect(() => o.load()).toThrow(NotSupportedError);
      expect(() => BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_lirc'] }).load()).toThrow(/lirc_mode2 programs \(CONFIG_BPF_LIRC_MODE2, with rc-core: CONFIG_RC_CORE\) needs Linux 4\.18 or later/);
    }
    if (!has('CONFIG_NET_ACT_BPF') || !has('CONFIG_NET_CLS_MATCHALL')) {
      const dev = `bact${process.pid % 100000}`;
      sh(`ip link add ${dev} type veth peer name ${dev}p && ip link set ${dev} up`);
      try {
        using o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_act'] }).load();
        expect(() => o.program('count_act').attach({ iface: dev })).toThrow(NotSupportedError);
        expect(() => o.program('count_act').attach({ iface: dev })).toThrow(/TC BPF actions \(act_bpf on a matchall filter: CONFIG_NET_ACT_BPF, CONFIG_NET_CLS_MATCHALL\)/);
        // The clsact qdisc the attach made for the filter went with the refusal.
        expect(sh(`tc qdisc show dev ${dev}`)).not.toMatch(/clsact/);
      } finally {
        sh(`ip link del ${dev}`);
      }
    }
    expect(config.size).toBeGreaterThan(100);
  });
});
