// Runs inside Debian's kernels (npm run test:vm): a sleepable LSM program (lsm.s/file_open; lsm is
// EPERM on the host) runs for this process's opens and reads its memory with bpf_copy_from_user
// (allowed only in sleepable programs).
import '../../src/syscall/native.js';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { sys } from '../../src/syscall/backend.js';
import { fixture, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const VALUE = 0x0102030405060708n;
const KINDS = ['s_lsm'];

describe.skipIf(skip)('sleepable tracing in the VM', () => {
  it('lsm.s (file_open) runs for this process and copies user memory', () => {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(VALUE);
    using o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: KINDS });
    o.setConstant('target_tgid', process.pid).setConstant('user_addr', sys().addressOf(buf));
    o.load();
    const links = o.attachAll();
    try {
      expect(links.map((l) => l.kind)).toEqual(['lsm']);
      for (let i = 0; i < 3; i++) fs.closeSync(fs.openSync('/proc/self/stat', 'r'));
    } finally {
      for (const l of links) l.close();
    }
    for (const n of KINDS) {
      expect(o.globals.get(`${n}_hits`) as bigint, n).toBeGreaterThanOrEqual(3n);
      expect(o.globals.get(`${n}_copied`), n).toBe(VALUE);
    }
    expect(buf.readBigUInt64LE()).toBe(VALUE);
  });
});
