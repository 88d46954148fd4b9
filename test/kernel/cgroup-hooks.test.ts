// The cgroup socket, sysctl and device hooks (SEC("cgroup/...")) on a cgroup v2 the test makes:
// a child process moved into it (in a network namespace of its own, so fixed ports are free) makes
// one of each operation, and every program sees its own: the counts, and the port, option name,
// sysctl or device it was called for. The cgroup is removed when the child is gone.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroup2Root } from '../../src/link/attach.js';
import type { Link } from '../../src/link/link.js';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';

const skip = needKernel();
const P4 = 4242;
const P6 = 4343;
const PYTHON = skip ? 'python3' : execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

const INET = ['on_sock_create', 'on_sock_release', 'on_sock', 'on_post_bind4', 'on_post_bind6', 'on_bind4', 'on_bind6', 'on_connect4', 'on_connect6', 'on_sendmsg4', 'on_sendmsg6', 'on_recvmsg4', 'on_recvmsg6', 'on_getpeername4', 'on_getpeername6', 'on_getsockname4', 'on_getsockname6', 'on_getsockopt', 'on_setsockopt', 'on_sysctl', 'on_dev'];
const UNIX = ['on_connect_unix', 'on_sendmsg_unix', 'on_recvmsg_unix', 'on_getpeername_unix', 'on_getsockname_unix'];

// The workload, in the order the assertions expect; prints the ports the kernel picked.
const WORKLOAD = `
import json, os, socket as S, tempfile
out = {}
for fam, host, port, key in ((S.AF_INET, '127.0.0.1', ${P4}, 'v4'), (S.AF_INET6, '::1', ${P6}, 'v6')):
    b = S.socket(fam, S.SOCK_DGRAM); b.bind((host, 0))
    a = S.socket(fam, S.SOCK_DGRAM); a.bind((host, port))
    b.sendto(b'x', (host, port))
    _, frm = a.recvfrom(16)
    out[key] = frm[1]
    a.getsockname()
    b.connect((host, port))
    b.getpeername()
    b.setsockopt(S.SOL_SOCKET, S.SO_RCVBUF, 65536)
    b.getsockopt(S.SOL_SOCKET, S.SO_TYPE)
    a.close(); b.close()
if os.environ.get('UNIX') == '1':
    d = tempfile.mkdtemp()
    srv = S.socket(S.AF_UNIX, S.SOCK_DGRAM); srv.bind(d + '/s')
    cli = S.socket(S.AF_UNIX, S.SOCK_DGRAM); cli.bind(d + '/c')
    cli.sendto(b'x', d + '/s')
    srv.recvfrom(16)
    cli.connect(d + '/s')
    cli.getpeername(); cli.getsockname()
    srv.close(); cli.close()
    # What a name-service lookup does (glibc's nscd client): a stream connect the hooks must not count.
    ns = S.socket(S.AF_UNIX, S.SOCK_STREAM)
    try: ns.connect(d + '/nscd')
    except OSError: pass
    ns.close()
    os.unlink(d + '/s'); os.unlink(d + '/c'); os.rmdir(d)
with open('/proc/sys/net/ipv4/ip_forward', 'w') as f: f.write('0')
with open('/proc/sys/kernel/ostype') as f: f.read()
with open('/dev/zero', 'rb') as f: f.read(1)
print(json.dumps(out))
`;

describe.skipIf(skip)('cgroup socket, sysctl and device hooks', () => {
  const cg = `${cgroup2Root()}/bee-ts-cghooks-${process.pid}`;
  beforeAll(() => fs.mkdirSync(cg));
  afterAll(() => fs.rmdirSync(cg));

  /** Run the workload inside the cgroup, in a fresh network namespace; the kernel-picked ports. */
  function runInCgroup(unix: boolean): { v4: number; v6: number } {
    // The interpreter itself, not a wrapper (a pyenv shim is a bash script whose lookups would run
    // in the cgroup), with -I -S: no site module, no PYTHON* variables. Without them Python looks
    // up the user when HOME is unset (a passwd lookup over nscd's or nss-systemd's sockets, in the
    // cgroup), and a site .pth file can import anything.
    const script = `ip link set lo up && echo $$ > ${cg}/cgroup.procs && exec ${PYTHON} -I -S -c "$0"`;
    const out = execFileSync('unshare', ['-n', 'sh', '-c', script, WORKLOAD], { encoding: 'utf8', env: { ...process.env, UNIX: unix ? '1' : '0' }, timeout: 60_000 });
    return JSON.parse(out.trim().split('\n').pop()!);
  }

  it('sock_create/release, post_bind, bind, connect, sendmsg, recvmsg, getpeername, getsockname (v4 and v6), get/setsockopt, sysctl and dev each see their operation', () => {
    using o = BpfObject.open(fixture('cgroup_sock.bpfel.o'), { autoload: INET }).load();
    const links: Link[] = INET.map((n) => o.program(n).attach({ cgroup: cg }));
    let ports;
    try {
      expect(links.every((l) => l.kind === 'cgroup' && l.target === cg)).toBe(true);
      ports = runInCgroup(false);
    } finally {
      for (const l of links) l.close();
    }
    const g = (n: string) => o.globals.get(n);
    // Two UDP sockets per family: created and released, the last of family AF_INET6.
    expect([g('create_hits'), g('release_hits'), g('sock_hits')]).toEqual([4n, 4n, 4n]);
    expect([g('create_family'), g('release_family')]).toEqual([10, 10]);
    // post_bind: both binds of a family (port 0, then the fixed port), the port bound last.
    expect([g('post_bind4_hits'), g('post_bind4_port'), g('post_bind6_hits'), g('post_bind6_port')]).toEqual([2n, P4, 2n, P6]);
    for (const [fam, port, af] of [['4', P4, 2], ['6', P6, 10]] as const) {
      expect([g(`bind${fam}_hits`), g(`bind${fam}_port`), g(`bind${fam}_family`)], `bind${fam}`).toEqual([2n, port, af]);
      for (const hook of ['connect', 'sendmsg', 'getpeername', 'getsockname']) expect([g(`${hook}${fam}_hits`), g(`${hook}${fam}_port`), g(`${hook}${fam}_family`)], `${hook}${fam}`).toEqual([1n, port, af]);
      // recvmsg rewrites the address a receive returns: the sender's, a port the kernel picked.
      expect([g(`recvmsg${fam}_hits`), g(`recvmsg${fam}_port`)], `recvmsg${fam}`).toEqual([1n, fam === '4' ? ports.v4 : ports.v6]);
    }
    expect([g('setsockopt_hits'), g('setsockopt_name'), g('getsockopt_hits'), g('getsockopt_name')]).toEqual([2n, 8 /* SO_RCVBUF */, 2n, 3 /* SO_TYPE */]);
    expect(g('sysctl_hits') as bigint).toBeGreaterThanOrEqual(2n);
    expect(g('sysctl_writes') as bigint).toBeGreaterThanOrEqual(1n);
    expect(String(g('sysctl_name')).replace(/\0+$/, '')).toBe('kernel/ostype');
    expect(g('dev_hits') as bigint).toBeGreaterThanOrEqual(1n);
    expect([g('dev_major'), g('dev_minor')]).toEqual([1, 5]); // /dev/zero, opened last
  });

  it.skipIf(needKernel('6.7', 'cgroup AF_UNIX sock_addr hooks'))('connect_unix, sendmsg_unix, recvmsg_unix, getpeername_unix, getsockname_unix each see their AF_UNIX call', () => {
    using o = BpfObject.open(fixture('cgroup_sock.bpfel.o'), { autoload: UNIX }).load();
    const links = UNIX.map((n) => o.program(n).attach({ cgroup: cg }));
    try {
      runInCgroup(true);
    } finally {
      for (const l of links) l.close();
    }
    for (const hook of ['connect', 'sendmsg', 'recvmsg', 'getpeername', 'getsockname']) expect([o.globals.get(`${hook}_unix_hits`), o.globals.get(`${hook}_unix_family`)], hook).toEqual([1n, 1 /* AF_UNIX */]);
  });

  it('detached hooks see nothing more', () => {
    using o = BpfObject.open(fixture('cgroup_sock.bpfel.o'), { autoload: ['on_sock_create'] }).load();
    o.program('on_sock_create').attach({ cgroup: cg }).close();
    runInCgroup(false);
    expect(o.globals.get('create_hits')).toBe(0n);
  });
});
