// struct_ops end to end: a TCP congestion control written as struct_ops, registered by bee-ts,
// used by a loopback connection (chosen with setsockopt(TCP_CONGESTION), confirmed by
// getsockopt and ss), its callbacks counted; unregistered on dispose.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { planStructOps, StructOpsError, structOpsModule } from '../../src/loader/struct-ops.js';
import { vmlinuxBtf } from '../../src/loader/btf-files.js';
import os from 'node:os';
import path from 'node:path';
import { cliInProcess, fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';
import { leaksSince, snapshot } from '../leaks.js';

const skip = needKernel();
const skipCli = skip ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
/** Loading the fixture creates its .struct_ops.link map (BPF_F_LINK at BPF_MAP_CREATE): EINVAL before 6.4. */
const needLink = skip ?? needKernel('6.4', 'struct_ops links (.struct_ops.link, BPF_F_LINK)');
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] });

/** The fixture with its two struct_ops renamed (same lengths: names live in BTF, symtab and the value). */
function renamedFixture(dir: string, tag: string): { file: string; plain: string; link: string } {
  const plain = `m${String(process.pid).padStart(9, '0')}`.slice(0, 10);
  const link = `l${tag}${String(process.pid % 10000).padStart(4, '0')}`.slice(0, 6);
  const bytes = fs.readFileSync(fixture('struct_ops.bpfel.o'));
  const file = path.join(dir, `so_${tag}.o`);
  fs.writeFileSync(file, Buffer.from(bytes.toString('latin1').replaceAll('bee_cc_map\0', `${plain}\0`).replaceAll('bee_cc\0', `${link}\0`), 'latin1'));
  return { file, plain, link };
}
const libc = koffi.load('libc.so.6');
const setsockopt = libc.func('int setsockopt(int fd, int level, int name, const char *val, uint32_t len)');
const getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)');
const IPPROTO_TCP = 6;
const TCP_CONGESTION = 13;

const available = () => fs.readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').trim().split(/\s+/);
const fdOf = (h: unknown) => (h as { _handle: { fd: number } })._handle.fd;

function congestionOf(fd: number): string {
  const buf = Buffer.alloc(16);
  const len = [16];
  expect(getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, len)).toBe(0);
  return buf.subarray(0, buf.indexOf(0) < 0 ? len[0] : buf.indexOf(0)).toString();
}

/**
 * A listener using congestion control `cc` (accepted sockets inherit it) sends `bytes` to a
 * client over loopback; resolves with the server side's CC name (getsockopt) and ss's line.
 */
async function transfer(cc: string, bytes: number): Promise<{ cc: string; ss: string; received: number }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const rc = setsockopt(fdOf(server), IPPROTO_TCP, TCP_CONGESTION, cc, cc.length);
    expect(rc).toBe(0);
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<{ cc: string; ss: string }>((resolve) =>
      server.once('connection', (s) => {
        const info = { cc: congestionOf(fdOf(s)), ss: execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }) };
        s.end(Buffer.alloc(bytes, 7), () => resolve(info));
      }),
    );
    const client = net.connect(port, '127.0.0.1');
    let received = 0;
    client.on('data', (d: Buffer) => (received += d.length));
    await new Promise<void>((r) => client.on('end', r));
    client.destroy();
    return { ...(await accepted), received };
  } finally {
    server.close();
  }
}

describe.skipIf(skip)('struct_ops on the real kernel', () => {
  it.skipIf(needLink)('a struct_ops TCP congestion control registers, carries a loopback connection, and unregisters on dispose', async () => {
    const link = `bee${process.pid}`;
    const plain = `beem${process.pid}`;
    using o = BpfObject.open(fixture('struct_ops.bpfel.o'));
    o.setStructOps('bee_cc', 'name', link).setStructOps('bee_cc_map', 'name', plain);
    o.load();
    // Members are matched by name: each program's expected attach type is its kernel member index.
    const k = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 30 })).types as {
      name: string;
      kind: string;
      members?: { name: string }[];
    }[];
    const ops = k.find((t) => t.kind === 'STRUCT' && t.name === 'tcp_congestion_ops')!;
    for (const [prog, member] of [
      ['bee_init', 'init'],
      ['bee_cong_avoid', 'cong_avoid'],
      ['bee_ssthresh', 'ssthresh'],
      ['bee_undo_cwnd', 'undo_cwnd'],
    ] as const)
      expect(o.program(prog).expectedAttachType).toBe(ops.members!.findIndex((m) => m.name === member));

    expect(available()).not.toContain(link);
    {
      using l = o.registerStructOps('bee_cc');
      expect(l.fd).toBeDefined(); // .struct_ops.link: a real BPF link
      expect(available()).toContain(link);
      const before = o.globals.get('cong_avoid_calls') as bigint;
      const r = await transfer(link, 4 << 20);
      expect(r.received).toBe(4 << 20);
      expect(r.cc).toBe(link);
      expect(r.ss).toContain(link);
      expect(o.globals.get('init_calls') as bigint).toBeGreaterThanOrEqual(1n);
      expect(o.globals.get('cong_avoid_calls') as bigint).toBeGreaterThan(before);
    }
    expect(available()).not.toContain(link);

    // .struct_ops (no link): the map update registers it, the delete on dispose unregisters it.
    {
      using l = o.registerStructOps('bee_cc_map');
      expect(l.fd).toBeUndefined();
      expect(available()).toContain(plain);
      const inits = o.globals.get('init_calls') as bigint;
      const r = await transfer(plain, 1 << 20);
      expect(r.cc).toBe(plain);
      expect(o.globals.get('init_calls') as bigint).toBeGreaterThan(inits);
    }
    expect(available()).not.toContain(plain);
  });

  // The fixture's two maps are created together: its .struct_ops.link map needs 6.4 here too.
  it.skipIf(needLink)('a second registration under a taken name is refused with the reason', () => {
    const name = `beed${process.pid}`;
    using a = BpfObject.open(fixture('struct_ops.bpfel.o'));
    using b = BpfObject.open(fixture('struct_ops.bpfel.o'));
    for (const o of [a, b]) o.setStructOps('bee_cc_map', 'name', name).load();
    using _l = a.registerStructOps('bee_cc_map');
    expect(() => b.registerStructOps('bee_cc_map')).toThrow(/already registered/);
  });

  it('an unknown kernel struct names what is missing', () => {
    const o = BpfObject.open(fixture('struct_ops.bpfel.o'));
    o.spec.maps.find((m) => m.name === 'bee_cc')!.structOps!.typeName = 'no_such_ops';
    expect(() => o.load()).toThrow(StructOpsError);
    expect(() => o.load()).toThrow(/no struct_ops type 'no_such_ops'/);
  });

  it("a struct_ops type a kernel module defines is refused naming the module and what it would need", () => {
    // The module is found by its BTF's strings (here a stand-in /sys/kernel/btf with one module).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-modbtf-'));
    try {
      fs.writeFileSync(path.join(dir, 'vmlinux'), '\0bpf_struct_ops_vm_ops\0');
      fs.writeFileSync(path.join(dir, 'bee_mod'), Buffer.from('\0x\0bpf_struct_ops_bee_mod_ops\0y\0'));
      expect(structOpsModule('bee_mod_ops', dir)).toBe('bee_mod');
      expect(structOpsModule('vm_ops', dir)).toBeUndefined(); // vmlinux is not a module
      expect(structOpsModule('bee_mod', dir)).toBeUndefined(); // whole names only
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
    const o = BpfObject.open(fixture('struct_ops.bpfel.o'));
    const maps = o.spec.maps.map((m) => (m.name === 'bee_cc' ? { ...m, structOps: { ...m.structOps!, typeName: 'bee_mod_ops' } } : m));
    expect(() => planStructOps(maps, o.spec.btf!, vmlinuxBtf(), 'x.o', (t) => (t === 'bee_mod_ops' ? 'bee_mod' : undefined))).toThrow(
      /struct_ops type 'bee_mod_ops' is defined by kernel module 'bee_mod' .*bee-ts registers vmlinux struct_ops types only.*BPF_F_VTYPE_BTF_OBJ_FD, Linux 6.9\+/,
    );
    // tcp_congestion_ops is vmlinux's own: no module BTF defines it.
    expect(structOpsModule('tcp_congestion_ops')).toBeUndefined();
  });
});

describe.skipIf(skipCli)('struct_ops CLI vs bpftool', () => {
  it('list/show/dump of a struct_ops libbpf registered print what bpftool prints; unregister like bpftool', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-so-'));
    try {
      // bpftool 7.1 (libbpf 1.1) registers the .struct_ops map (it skips .struct_ops.link).
      const a = renamedFixture(dir, 'a');
      bpftool('struct_ops', 'register', a.file);
      const [{ id }] = JSON.parse(bpftool('-j', 'struct_ops', 'show', 'name', a.plain)) as { id: number }[];
      expect(available()).toContain(a.plain);
      for (const args of [
        ['show', 'id', String(id)],
        ['show', 'name', a.plain],
        ['dump', 'id', String(id)],
      ]) {
        const plain = runCli(['struct_ops', ...args]);
        expect(plain.status, plain.stderr).toBe(0);
        expect(plain.stdout).toBe(bpftool('struct_ops', ...args));
        const json = runCli(['struct_ops', ...args, '--json']);
        expect(json.stdout).toBe(bpftool('-j', 'struct_ops', ...args));
      }
      const dump = JSON.parse(runCli(['struct_ops', 'dump', 'name', a.plain, '--json']).stdout);
      expect(dump[1].bpf_struct_ops_tcp_congestion_ops.data.ssthresh).toMatch(/^u32 \(struct sock \*\) bee_ssthresh\/prog_id:\d+$/);
      const un = runCli(['struct_ops', 'unregister', 'id', String(id)]);
      expect(un.status).toBe(0);
      expect(un.stderr).toBe(`Unregistered tcp_congestion_ops ${a.plain} id ${id}\n`);
      expect(available()).not.toContain(a.plain);
      const again = runCli(['struct_ops', 'show', 'name', a.plain]);
      expect(again.status).toBe(1); // bpftool: 255; bee-ts's one rule: 1 for a run-time failure
      expect(again.stderr).toBe(`Error: no struct_ops found for ${a.plain}\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // The object's .struct_ops.link map is created with BPF_F_LINK: 6.4.
  it.skipIf(skipCli ?? needLink)('register: bee-ts registers both kinds, the link pinned under LINK_DIR, and bpftool lists both', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-so-'));
    const pinDir = fs.mkdtempSync(`/sys/fs/bpf/bee-so-${process.pid}-`);
    try {
      const b = renamedFixture(dir, 'b');
      const reg = runCli(['struct_ops', 'register', b.file, pinDir]);
      expect(reg.status, reg.stderr).toBe(0);
      expect(reg.stderr).toMatch(new RegExp(`^Registered tcp_congestion_ops ${b.plain} id \\d+\nRegistered tcp_congestion_ops ${b.link} id \\d+\n$`));
      expect(available()).toEqual(expect.arrayContaining([b.plain, b.link]));
      expect(fs.existsSync(path.join(pinDir, b.link))).toBe(true);
      for (const n of [b.plain, b.link]) expect(runCli(['struct_ops', 'show', 'name', n]).stdout).toBe(bpftool('struct_ops', 'show', 'name', n));
      fs.rmSync(path.join(pinDir, b.link));
      expect(runCli(['struct_ops', 'unregister', 'name', b.plain]).status).toBe(0);
      expect(available()).not.toContain(b.plain);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      for (const f of fs.readdirSync(pinDir)) fs.rmSync(path.join(pinDir, f));
      fs.rmdirSync(pinDir);
    }
  });

  // The VMs run the CLI in-process (runCli, test/helpers.ts), where no process exit closes what a
  // command left open: register kept its own dup of each map's fd (one per map) until then.
  it.skipIf(skipCli ?? needLink)('register + unregister run in-process leave no fd behind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-so-'));
    const pinDir = fs.mkdtempSync(`/sys/fs/bpf/bee-so-${process.pid}-`);
    try {
      const c = renamedFixture(dir, 'c');
      const cycle = () => {
        const reg = cliInProcess(['struct_ops', 'register', c.file, pinDir]);
        expect(reg.status, reg.stderr).toBe(0);
        expect(available()).toEqual(expect.arrayContaining([c.plain, c.link]));
        fs.rmSync(path.join(pinDir, c.link));
        const un = cliInProcess(['struct_ops', 'unregister', 'name', c.plain]);
        expect(un.status, un.stderr).toBe(0);
        expect(available()).not.toContain(c.plain);
      };
      // The first run starts the CLI's worker and fills its caches; the second counts.
      cycle();
      const before = snapshot();
      cycle();
      expect(leaksSince(before)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      for (const f of fs.readdirSync(pinDir)) fs.rmSync(path.join(pinDir, f));
      fs.rmdirSync(pinDir);
    }
  });
});
