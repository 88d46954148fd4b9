// Runs inside Debian's kernels (npm run test:vm; LSM programs are refused on the host): a cgroup
// LSM program (SEC("lsm_cgroup/socket_bind")) attached to a cgroup v2 the test makes sees the
// binds of a child process moved into it, with their ports, and refuses the one it is told to.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');

describe.skipIf(skip)('lsm_cgroup in the VM', () => {
  it('lsm_cgroup/socket_bind counts the binds made in its cgroup and refuses the port it is told to', () => {
    // The VM's init mounts no cgroup2: mount one in the writable tmpfs.
    const mnt = `${process.env.TMPDIR ?? '/run/bee-tmp'}/cg2-${process.pid}`;
    fs.mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'cgroup2', 'none', mnt]);
    const cg = `${mnt}/bee-lsmcg-${process.pid}`;
    fs.mkdirSync(cg);
    try {
      using o = BpfObject.open(fixture('lsm_cgroup.bpfel.o'));
      o.setConstant('refuse_port', 4999);
      o.load();
      using l = o.program('on_bind').attach({ cgroup: cg });
      expect(l.kind).toBe('cgroup');
      const script = `
import socket as S
for port in (4998, 4999):
    s = S.socket(S.AF_INET, S.SOCK_DGRAM)
    try:
        s.bind(('127.0.0.1', port)); print(port, 'ok')
    except OSError as e:
        print(port, e.errno)
    s.close()
`;
      const out = execFileSync('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec python3 -I -S -c "$0"`, script], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(['4998 ok', '4999 1']); // EPERM from the LSM program
      expect(o.globals.get('bind_hits')).toBe(2n);
      expect(o.globals.get('bind_port')).toBe(4999);
    } finally {
      fs.rmdirSync(cg);
      execFileSync('umount', [mnt]);
      fs.rmdirSync(mnt);
    }
  });
});
