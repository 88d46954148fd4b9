import '../../src/syscall/native.js';
import { execFileSync, execSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import koffi from 'koffi';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../../src/btf/btf.js';
import { BtfKind, type CompositeType } from '../../src/btf/types.js';
import { liveProbeEvents } from '../../src/link/tracefs.js';
import { cgroup2Root } from '../../src/link/attach.js';
import { BpfObject, LoadError } from '../../src/loader/object.js';
import { VerifierError } from '../../src/loader/prog-load.js';
import { Fd } from '../../src/syscall/fd.js';
import { progInfo } from '../../src/syscall/info.js';
import { fixture, gccBuild, hasCommand, heldIds, kernelHasFunc, libEntry, need, needKernel, openFdCount, root, runCli, thrown, waitUntil } from '../helpers.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { progsLeft } from '../run-helper.js';

const skip = needKernel();
const open = (name: string, opts = {}) => BpfObject.open(fixture(name), opts);
const getppid = koffi.load('libc.so.6').func('int getppid()');
async function sendUdp(host: string, n: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (let i = 0; i < n; i++) await new Promise<void>((r) => s.send(Buffer.from('bee'), 9, host, () => r()));
  await new Promise((r) => setTimeout(r, 200));
  s.close();
}
/**
 * The kernel objects this process holds, and its open fd count (a BTF object has no id in
 * fdinfo: one left behind would be held by a leaked fd). Held ids, not a name match over the
 * kernel: other processes may load the same fixtures meanwhile.
 */
const kernelIds = () => ({ ...heldIds(), fds: openFdCount() });
/** Objects this process holds now that it did not hold at `before`. */
const newIds = (before: ReturnType<typeof kernelIds>) => {
  const now = heldIds();
  const fresh = (kind: 'prog' | 'map' | 'link') => now[kind].filter((id) => !before[kind].includes(id));
  return { prog: fresh('prog'), map: fresh('map'), link: fresh('link'), fds: openFdCount() - before.fds };
};
const NONE = { prog: [], map: [], link: [], fds: 0 };

describe.skipIf(skip)('loading objects on the real kernel', () => {
  afterAll(() => {
    expect(liveProbeEvents()).toEqual([]);
  });

  it('CO-RE reads of task_struct match /proc, and every CO-RE kind resolves', () => {
    using o = open('core.bpfel.o').load();
    // The program runs for every task entering a syscall; it writes only for this process's main
    // thread (unfiltered, another CPU's syscall overwrote the result before the read 1 time in 20).
    const results = o.map('core_results');
    results.update(0, { ...(results.lookup(0) as Record<string, unknown>), want_tgid: process.pid });
    o.attachAll();
    fs.readFileSync('/proc/self/stat');
    const r = results.lookup(0) as Record<string, unknown>;
    expect(r.want_tgid).toBe(process.pid);
    expect(r.pid).toBe(process.pid);
    expect(r.tgid).toBe(process.pid);
    expect(r.ppid).toBe(process.ppid);
    expect(r.comm).toBe(fs.readFileSync('/proc/self/comm', 'utf8').trim().slice(0, 15));
    const k = parseBtf(fs.readFileSync('/sys/kernel/btf/vmlinux'));
    const task = k.find('task_struct', BtfKind.Struct) as CompositeType;
    const pid = task.members.find((m) => m.name === 'pid')!;
    expect(r.field_offset).toBe(BigInt(pid.bitOffset / 8));
    expect(r.field_size).toBe(4n);
    expect(r.is_signed).toBe(1n);
    expect(r.exists).toBe(1n);
    expect(r.missing).toBe(0n);
    expect(r.type_exists).toBe(1n);
    expect(r.type_missing).toBe(0n);
    expect(r.type_size).toBe(BigInt(task.size));
    expect(r.type_matches).toBe(1n);
    expect(r.target_id).toBe(BigInt(task.id));
    expect(r.local_id).toBe(BigInt(o.spec.btf!.find('task_struct', BtfKind.Struct)!.id));
    expect(r.enum_exists).toBe(1n);
    const pidType = k.find('pid_type', BtfKind.Enum)!;
    expect(r.enum_value).toBe(pidType.values.find((v) => v.name === 'PIDTYPE_MAX')!.value);
    // sched_reset_on_fork is a 1-bit field: 0 or 1, read through the bitfield shifts.
    expect([0n, 1n]).toContain(r.bitfield);
  });

  it('global data: initial values, mmap access, constants before load, .rodata read-only after', () => {
    using o = open('globals.bpfel.o');
    o.setConstant('filter_pid', process.pid);
    o.load();
    expect(o.globals.get('counter')).toBe(100n);
    expect(o.globals.get('histogram')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(o.globals.get('filter_pid')).toBe(process.pid);
    expect(o.globals.get('label')).toBe('bee');
    expect(() => o.globals.set('filter_pid', 1)).toThrow(/read-only after load/);
    o.globals.set('counter', 1000n);
    o.attachAll();
    for (let i = 0; i < 5; i++) getppid();
    // Only our own getppid calls count (filter_pid), each adding static_sub(1) + sum(0..3) + kconfig values.
    expect(o.globals.get('hits')).toBeGreaterThanOrEqual(5n);
    expect(o.globals.get('last_pid')).toBe(process.pid);
    expect(o.globals.get('counter') as bigint).toBeGreaterThan(1000n);
    // the .rodata map is frozen and read-only for programs
    const ro = o.map('globals.rodata');
    expect(() => ro.update(0, new Uint8Array(ro.valueSize))).toThrow(/EPERM/);
  });

  it('kconfig externs get the running kernel values', () => {
    using o = open('globals.bpfel.o').load();
    const kc = o.map('globals.kconfig');
    const raw = Buffer.from(kc.lookupRaw(new Uint8Array(4))!);
    const [a, b] = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').split('.').map(Number);
    expect(raw.readUInt32LE(0) >> 8).toBe((a! << 8) | b!);
  });

  it('maps: prog array and map-in-map slots are filled, tail calls work', () => {
    const pinRoot = `/sys/fs/bpf/bee-pinroot-${process.pid}`;
    fs.mkdirSync(pinRoot, { recursive: true });
    using o = open('maps.bpfel.o', { pinRoot }).load();
    // __uint(pinning, LIBBPF_PIN_BY_NAME) pins under pinRoot
    expect(fs.existsSync(`${pinRoot}/pinned_array`)).toBe(true);
    fs.rmSync(pinRoot, { recursive: true });
    const jumps = o.map('jumps');
    expect(Buffer.from(jumps.lookupRaw(Buffer.alloc(4))!).readUInt32LE()).toBeGreaterThan(0);
    const outer = o.map('outer');
    const key = Buffer.alloc(4);
    key.writeUInt32LE(1);
    expect(outer.lookupRaw(key)).toBeDefined();
  });

  it.skipIf(needKernel('6.2', 'the bpf_task_from_pid kfunc', () => kernelHasFunc('bpf_task_from_pid')))('extern relocations: kfuncs, an untyped __ksym from kallsyms, a missing __weak kfunc', () => {
    using o = open('ksyms.bpfel.o');
    o.setConstant('want_pid', process.pid).load();
    o.program('use_ksyms').testRun();
    expect(o.globals.get('task_pid')).toBe(process.pid); // bpf_task_from_pid + bpf_task_release
    const k = /^([0-9a-f]+) \w _stext$/m.exec(fs.readFileSync('/proc/kallsyms', 'utf8'))!;
    expect(o.globals.get('stext_addr')).toBe(BigInt(`0x${k[1]}`));
    expect(o.globals.get('weak_missing')).toBe(0);
  });

  it('tracepoint and raw tracepoint programs fire', () => {
    using o = open('attach.bpfel.o');
    o.setConstant('target_tgid', process.pid).load();
    using tp = o.program('count_tp').attach();
    using raw = o.program('count_rawtp').attach();
    expect(tp.kind).toBe('tracepoint');
    expect(raw.kind).toBe('raw_tracepoint');
    for (let i = 0; i < 10; i++) getppid();
    expect(o.globals.get('tp_hits')).toBe(10n);
    expect(o.globals.get('rawtp_hits') as bigint).toBeGreaterThanOrEqual(10n);
  });

  it('a uprobe and uretprobe on a shared library function fire', () => {
    using o = open('attach.bpfel.o').load();
    using up = o.program('count_uprobe').attach({ target: 'libc.so.6:getppid', pid: process.pid });
    using _ret = o.program('count_uretprobe').attach({ target: 'libc.so.6:getppid', pid: process.pid });
    expect(up.kind).toBe('uprobe');
    for (let i = 0; i < 7; i++) getppid();
    expect(o.globals.get('uprobe_hits')).toBe(7n);
    expect(o.globals.get('uretprobe_hits')).toBe(7n);
    expect(o.globals.get('last_uprobe_pid')).toBe(process.pid);
  });

  it.skipIf(needKernel('6.6', 'uprobe.multi links', linkFeatures.uprobeMulti))('uprobe.multi / uretprobe.multi: one link per glob over libc, per-function cookies, a pid filter', () => {
    const libc = koffi.load('libc.so.6');
    const getpid = libc.func('int getpid()');
    using o = open('uprobe_multi.bpfel.o').load();
    using entry = o.program('multi_entry').attach({ pid: process.pid, cookies: { getpid: 1n, getppid: 1000n } });
    using ret = o.program('multi_return').attach({ pid: process.pid });
    expect(entry.kind).toBe('uprobe.multi');
    expect(ret.kind).toBe('uretprobe.multi');
    expect(entry.target).toMatch(/libc\.so\.6:getp\*id \((?=.*\bgetpid\b)(?=.*\bgetppid\b).*\)$/);
    expect(entry.fd).toBeDefined(); // a BPF link: pinnable
    for (let i = 0; i < 4; i++) getpid();
    for (let i = 0; i < 3; i++) getppid();
    expect(o.globals.get('entries') as bigint).toBeGreaterThanOrEqual(7n);
    expect(o.globals.get('returns') as bigint).toBeGreaterThanOrEqual(7n);
    // Each call carried its function's cookie (getpid 1, getppid 1000). Other threads of this process
    // (libuv, vitest) may call getpid now and then, so: getppid exactly 3 times, getpid at least 4.
    const sum = o.globals.get('cookie_sum') as bigint;
    expect(sum / 1000n).toBe(3n);
    expect(sum % 1000n).toBeGreaterThanOrEqual(4n);
    // Errors name the binary and the pattern.
    expect(() => o.program('multi_entry').attach({ target: 'libc.so.6:no_such_fn_*' })).toThrow(/no function in .*libc.* matches 'no_such_fn_\*'/);
    expect(() => o.program('multi_entry').attach({ cookies: { nope: 1n } })).toThrow(/cookies for functions the pattern 'getp\*id' does not match: nope/);
  });

  it.skipIf(needKernel('5.15', 'USDT (BPF cookies on perf-event links)'))('USDT (usdt.bpf.h): register, stack and constant arguments, a semaphore the kernel bumps, cookies', () => {
    if (need(fs.existsSync('/usr/include/x86_64-linux-gnu/sys/sdt.h') || fs.existsSync('/usr/include/sys/sdt.h'), 'sys/sdt.h missing: apt-get install systemtap-sdt-dev')) return;
    const dir = fs.mkdtempSync(`${os.tmpdir()}/bee-usdt-`);
    try {
      // The same probes built optimised (arguments in registers) and not (arguments on the stack).
      const bins = ['-O2', '-O0'].map((opt) => {
        return gccBuild(`${root}/test/probes/usdt_app.c`, [opt], `${dir}/app${opt}`);
      });
      for (const bin of bins) {
        using o = open('usdt.bpfel.o').load();
        const tick = o.program('on_tick').attach({ target: `${bin}:beets:tick`, cookie: 99n });
        const tock = o.program('on_tock').attach({ target: `${bin}:beets:tock` });
        expect(tick.kind).toBe('usdt');
        expect(tick.target).toBe(`${bin}:beets:tick (1 site)`);
        // The tock probe only fires while its semaphore is non-zero: the kernel bumps it for us.
        expect(execFileSync(bin, ['4'], { encoding: 'utf8' })).toBe('semaphore 1\n');
        expect(o.globals.get('ticks')).toBe(4n);
        expect(o.globals.get('sum_i')).toBe(6n); // 0+1+2+3
        expect(o.globals.get('sum_neg')).toBe(-26n); // -5-i, sign-extended from a long
        expect(o.globals.get('sum_data')).toBe(100n); // 10+20+30+40 through a memory operand
        expect(o.globals.get('tocks')).toBe(4n);
        expect(o.globals.get('sum_tock')).toBe(600n);
        expect(o.globals.get('sum_const')).toBe(4n * 42n); // a constant ($42) argument
        expect(o.globals.get('last_cookie')).toBe(99n);
        expect(o.globals.get('arg_cnt')).toBe(4);
        tick.close();
        tock.close();
        expect(execFileSync(bin, ['2'], { encoding: 'utf8' })).toBe('semaphore 0\n');
        expect(o.globals.get('ticks')).toBe(4n);
      }
      using o = open('usdt.bpfel.o').load();
      expect(() => o.program('on_tick').attach({ target: `${bins[0]}:beets:nope` })).toThrow(/no USDT probe beets:nope in .*app-O2 \(it has beets:tick, beets:tock\)/);
      expect(() => o.program('on_tick').attach({ target: `${process.execPath}:beets:tick` })).toThrow(/no USDT probe beets:tick/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a perf_event program samples on every CPU', async () => {
    using o = open('attach.bpfel.o').load();
    using l = o.program('count_perf').attach({ sampleFreq: 1000 });
    // Busy until the samples came (bounded): a fixed 300 ms of wall time is less CPU on a loaded host.
    for (const end = Date.now() + 20_000; (o.globals.get('perf_hits') as bigint) <= 10n && Date.now() < end; ) for (let i = 0; i < 100_000; i++) Math.sqrt(Math.random());
    expect(o.globals.get('perf_hits') as bigint).toBeGreaterThan(10n);
    expect(l.kind).toBe('perf_event');
  });

  it.skipIf(needKernel('6.6', 'TCX links', linkFeatures.tcx))('XDP and TCX attach on a veth pair in a network namespace the test creates', async () => {
    if (need(hasCommand('ip'), 'iproute2 (ip) is not installed')) return;
    const ns = `beets${process.pid}`;
    const sh = (c: string) => execSync(c, { stdio: 'pipe' });
    sh(`ip netns add ${ns}`);
    try {
      sh(`ip link add bee${process.pid % 10000}a type veth peer name bee${process.pid % 10000}b`);
      const a = `bee${process.pid % 10000}a`;
      const b = `bee${process.pid % 10000}b`;
      sh(`ip link set ${b} netns ${ns}`);
      sh(`ip addr add 10.213.0.1/24 dev ${a} && ip link set ${a} up`);
      sh(`ip -n ${ns} addr add 10.213.0.2/24 dev ${b} && ip -n ${ns} link set ${b} up && ip -n ${ns} link set lo up`);
      using o = open('attach.bpfel.o').load();
      using xdp = o.program('count_xdp').attach({ iface: a });
      using tc = o.program('count_tc').attach({ iface: a });
      expect(xdp.fd).toBeDefined();
      expect(tc.kind).toBe('tcx');
      // UDP to a closed port: ARP and the datagrams leave a (TCX egress); ARP replies and ICMP
      // port-unreachable answers arrive on a (XDP).
      await sendUdp('10.213.0.2', 3);
      // The datagrams wait for ARP; the counts arrive when the kernel got to them.
      await waitUntil(() => (o.globals.get('tc_hits') as bigint) >= 3n && (o.globals.get('xdp_hits') as bigint) >= 1n);
      expect(o.globals.get('tc_hits') as bigint).toBeGreaterThanOrEqual(3n);
      expect(o.globals.get('xdp_hits') as bigint).toBeGreaterThanOrEqual(1n);
      sh(`ip link del ${a}`);
    } finally {
      sh(`ip netns del ${ns}`);
    }
  });

  it('XDP and TC through netlink (kernels without XDP/TCX links): iproute2 sees them, close removes them', async () => {
    if (need(hasCommand('ip') && hasCommand('tc'), 'iproute2 (ip, tc) is not installed')) return;
    const ns = `beenl${process.pid}`;
    const sh = (c: string) => execSync(c, { stdio: 'pipe', encoding: 'utf8' });
    const a = `bnl${process.pid % 10000}a`;
    const b = `bnl${process.pid % 10000}b`;
    sh(`ip netns add ${ns}`);
    try {
      sh(`ip link add ${a} type veth peer name ${b}`);
      sh(`ip link set ${b} netns ${ns}`);
      sh(`ip addr add 10.214.0.1/24 dev ${a} && ip link set ${a} up`);
      sh(`ip -n ${ns} addr add 10.214.0.2/24 dev ${b} && ip -n ${ns} link set ${b} up`);
      let mine: number[] = [];
      {
        using o = open('attach.bpfel.o').load();
        // This object's own program ids (a name match over the kernel would see other processes' copies).
        mine = o.spec.programs.map((p) => progInfo(o.program(p.name).fd.value).id);
        const xdp = o.program('count_xdp').attach({ iface: a, xdpMode: 'netlink' });
        const tc = o.program('count_tc').attach({ iface: a, tcMode: 'netlink' });
        expect(xdp.fd).toBeUndefined();
        expect(tc.kind).toBe('tc');
        expect(tc.target).toMatch(new RegExp(`^${a} egress \\(clsact, prio \\d+ handle 0x[0-9a-f]+\\)$`));
        expect(() => tc.pin('/sys/fs/bpf/nope')).toThrow(/not a BPF link .*netlink/);
        // iproute2, an independent reader, sees a direct-action bpf filter and an XDP program.
        expect(sh(`tc filter show dev ${a} egress`)).toMatch(/bpf .*count_tc.* direct-action/);
        expect(sh(`tc qdisc show dev ${a}`)).toContain('clsact');
        expect(sh(`ip link show dev ${a}`)).toMatch(/xdp/);
        // A second XDP program on the same interface: refused, and the first stays.
        expect(() => o.program('count_xdp').attach({ iface: a, xdpMode: 'netlink' })).toThrow(/XDP on ifindex \d+: netlink: EBUSY/);
        await sendUdp('10.214.0.2', 3);
      // The datagrams wait for ARP; the counts arrive when the kernel got to them.
      await waitUntil(() => (o.globals.get('tc_hits') as bigint) >= 3n && (o.globals.get('xdp_hits') as bigint) >= 1n);
        expect(o.globals.get('tc_hits') as bigint).toBeGreaterThanOrEqual(3n);
        expect(o.globals.get('xdp_hits') as bigint).toBeGreaterThanOrEqual(1n);
        tc.close();
        xdp.close();
        expect(sh(`tc filter show dev ${a} egress`).trim()).toBe('');
        expect(sh(`tc qdisc show dev ${a}`)).not.toContain('clsact'); // this attachment created it
        expect(sh(`ip link show dev ${a}`)).not.toMatch(/xdp/);
      }
      // Closed and detached, none of them stays loaded (a netlink attachment would keep one).
      expect(await progsLeft(mine)).toEqual([]);
      // A clsact qdisc that was there before stays after our filter goes.
      sh(`tc qdisc add dev ${a} clsact`);
      {
        using o = open('attach.bpfel.o').load();
        using _tc = o.program('count_tc').attach({ iface: a, tcMode: 'netlink', tcDirection: 'ingress' });
        expect(sh(`tc filter show dev ${a} ingress`)).toContain('count_tc');
      }
      expect(sh(`tc filter show dev ${a} ingress`).trim()).toBe('');
      expect(sh(`tc qdisc show dev ${a}`)).toContain('clsact');
      // The object (and its program fd) closed before the XDP link: the link still detaches its program.
      const o2 = open('attach.bpfel.o').load();
      const x2 = o2.program('count_xdp').attach({ iface: a, xdpMode: 'netlink' });
      o2.close();
      expect(sh(`ip link show dev ${a}`)).toMatch(/xdp/);
      x2.close();
      expect(sh(`ip link show dev ${a}`)).not.toMatch(/xdp/);
      sh(`ip link del ${a}`);
    } finally {
      sh(`ip netns del ${ns}`);
    }
  });

  it('a cgroup_skb program attaches to a cgroup', async () => {
    using o = open('attach.bpfel.o').load();
    using l = o.program('count_cgroup').attach();
    expect(l.kind).toBe('cgroup');
    expect(l.target).toBe(cgroup2Root());
    await sendUdp('127.0.0.1', 2);
    expect(o.globals.get('cg_hits') as bigint).toBeGreaterThan(0n);
  });

  it('a verifier rejection shows the C source line, and nothing stays loaded', () => {
    const before = kernelIds();
    const err = thrown(() => open('bad_verifier.bpfel.o').load());
    expect(err).toBeInstanceOf(VerifierError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/program 'out_of_bounds'/);
    expect(msg).toMatch(/bad_verifier\.c:\d+:\d+: return v\[3\] == 42;/);
    expect(msg).toMatch(/invalid access to map value/);
    expect((err as VerifierError).log.length).toBeGreaterThan(100);
    expect(newIds(before)).toEqual(NONE);
  });

  it('an unresolvable CO-RE relocation is poisoned and explained', () => {
    const before = kernelIds();
    expect(() => open('core_poison.bpfel.o').load()).toThrow(/CO-RE relocation byte_off struct task_struct\.field_that_does_not_exist_in_the_kernel failed: no candidate matches the field path/);
    expect(newIds(before)).toEqual(NONE);
  });

  it('missing attach targets give clear errors and leave nothing attached', () => {
    using o = open('missing_target.bpfel.o').load();
    const links = heldIds().link;
    expect(() => o.program('bad_tp').attach()).toThrow(/tracepoint no_such_category\/no_such_event does not exist/);
    expect(() => o.program('bad_rawtp').attach()).toThrow(/raw tracepoint 'no_such_raw_tracepoint' does not exist/);
    expect(() => o.attachAll()).toThrow();
    expect(heldIds().link).toEqual(links);
  });

  it('a malformed object fails before touching the kernel', () => {
    const before = kernelIds();
    const bytes = fs.readFileSync(fixture('maps.bpfel.o')).subarray(0, 500);
    expect(() => BpfObject.fromBytes(bytes, { file: 'truncated.o' })).toThrow(/truncated\.o: malformed ELF/);
    expect(() => BpfObject.open(fixture('globals.bpfeb.o')).load()).toThrow(LoadError);
    expect(() => BpfObject.open(fixture('globals.bpfeb.o')).load()).toThrow(/big-endian object; this machine needs bpfel/);
    expect(newIds(before)).toEqual(NONE);
  });

  it("an object whose bee name prefix disagrees with its .maps.<role> section loads: the conflict is bee's to refuse (bee-ts run)", () => {
    // bpftool (libbpf 1.1) opens no object with a map in a .maps.<suffix> section ("bad map relo
    // against 'counter_conflict' in section '.maps.print'"), conflicting or not; bee-ts's loader
    // reads every such section as .maps, and leaves roles to src/bee/roles.ts.
    const before = kernelIds();
    {
      using o = open('bad_role.bpfel.o').load();
      const m = o.map('counter_conflict');
      expect([m.typeName, m.keySize, m.valueSize, m.maxEntries]).toEqual(['hash', 4, 8, 16]);
      m.update(0, 7n);
      expect(m.lookup(0)).toBe(7n);
      expect(o.program('prog').fd.value).toBeGreaterThan(0);
    }
    expect(newIds(before)).toEqual(NONE);
    const r = runCli(['run', fixture('bad_role.bpfel.o'), '--no-tty', '--no-metrics']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/bad_role\.bpfel\.o: map 'counter_conflict': name prefix says 'counter' but section \.maps\.print says 'print'; use one convention/);
    expect(newIds(before)).toEqual(NONE);
  });

  it('missing privileges give a clear error', () => {
    if (need(hasCommand('setpriv'), 'setpriv missing')) return;
    const script = `import('${libEntry}').then(({ BpfObject }) => { try { BpfObject.open('${fixture('maps.bpfel.o')}').load(); } catch (e) { console.error(e.message); process.exit(3); } })`;
    let out = '';
    try {
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      out = (e as { stderr: string }).stderr;
      expect((e as { status: number }).status).toBe(3);
    }
    expect(out).toMatch(/EPERM/);
    expect(out).toMatch(/run as root/);
  });

  it('closing an object releases every fd', () => {
    const before = openFdCount();
    const fdBefore = Fd.open;
    for (let i = 0; i < 20; i++) {
      const o = open('globals.bpfel.o').load();
      o.attachAll();
      o.close();
    }
    expect(Fd.open).toBe(fdBefore);
    expect(openFdCount()).toBe(before);
  });
});
