// Objects with __ksym externs keep their BTF (libbpf's .ksyms fix-ups), side by side with bpftool,
// and a BTF the kernel rejects is an error the library reports, with nothing left in the kernel.
import '../../src/syscall/native.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../src/elf/reader.js';
import { BpfObject, LoadError } from '../../src/loader/object.js';
import { sys } from '../../src/syscall/backend.js';
import { mapInfo, progInfo } from '../../src/syscall/info.js';
import { bpftoolIds, fixture, hasCommand, kernelHasFunc, need, needKernel, objectNames, thrown } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool (the peer) is missing');
const OBJ = fixture('ksym_spinlock.bpfel.o');

describe.skipIf(skip)('__ksym externs and BTF', () => {
  it.skipIf(needKernel('6.2', 'the bpf_task_from_pid kfunc', () => kernelHasFunc('bpf_task_from_pid')))('an object with ksyms, kfuncs (one __weak and missing) and a bpf_spin_lock map value loads with its BTF, as bpftool loads it', () => {
    const warnings: string[] = [];
    using o = BpfObject.open(OBJ, { onWarning: (w) => warnings.push(w) });
    o.setConstant('want_pid', process.pid).load();
    expect(o.btfFd).toBeDefined();
    const m = mapInfo(o.map('locked').fd.value);
    expect(m.btfId).toBeGreaterThan(0);
    expect(m.btfValueTypeId).toBeGreaterThan(0);
    const p = o.program('count_locked');
    expect(progInfo(p.fd.value).btfId).toBe(m.btfId);
    const r = p.testRun();
    expect(r.retval).toBe(0);
    expect((o.map('locked').lookup(0) as { count: bigint }).count).toBe(1n);
    expect(o.globals.get('seen_pid')).toBe(process.pid);
    expect(warnings).toEqual([]);

    // The peer: bpftool (libbpf 1.1) loads the same object with BTF too.
    const dir = `/sys/fs/bpf/bee-ts-ksymbtf-${process.pid}`;
    try {
      execFileSync('bpftool', ['prog', 'loadall', OBJ, dir, 'pinmaps', `${dir}/maps`], { stdio: 'pipe' });
      const pm = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', `${dir}/maps/locked`], { encoding: 'utf8' })) as { btf_id?: number; bytes_value: number };
      const pp = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', `${dir}/count_locked`], { encoding: 'utf8' })) as { btf_id?: number };
      expect(pm.btf_id).toBeGreaterThan(0);
      expect(pp.btf_id).toBe(pm.btf_id);
      expect(pm.bytes_value).toBe(o.map("locked").valueSize);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a BTF the kernel rejects fails the load with the kernel log, naming the file, leaving nothing behind', () => {
    // Make a type name invalid for the kernel (not a C identifier); our parser accepts any string.
    const bytes = new Uint8Array(fs.readFileSync(OBJ));
    const btfSec = parseElf(bytes, OBJ).sectionByName('.BTF')!;
    const sec = Buffer.from(bytes.buffer, bytes.byteOffset + Number(btfSec.offset), btfSec.data.length);
    const at = sec.indexOf('\0locked_val\0');
    expect(at).toBeGreaterThan(0);
    sec.write('locked-val', at + 1);
    const names = objectNames(OBJ);
    const before = { prog: bpftoolIds('prog', names), map: bpftoolIds('map', names) };
    const err = thrown(() => BpfObject.fromBytes(bytes, { file: 'bad_btf.o' }).load());
    expect(err).toBeInstanceOf(LoadError);
    expect((err as Error).message).toMatch(/^bad_btf\.o: the kernel rejected the object's BTF/);
    expect((err as Error).message).toMatch(/BTF_LOAD: EINVAL[\s\S]*BTF log/);
    expect(bpftoolIds('prog', names).filter((id) => !before.prog.includes(id))).toEqual([]);
    expect(bpftoolIds('map', names).filter((id) => !before.map.includes(id))).toEqual([]);
  });

  it('a plain extern function (no __ksym) is an open-time error, not the kfunc of that name, as in libbpf', () => {
    const file = fixture('extern_plain.bpfel.o');
    expect(() => BpfObject.open(file)).toThrow(/extern_plain\.bpfel\.o: extern 'bpf_task_from_pid': is declared without __ksym or __kconfig/);
    const dir = `/sys/fs/bpf/bee-ts-plainext-${process.pid}`;
    try {
      const r = spawnSync('bpftool', ['prog', 'loadall', file, dir], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/bpf_task_from_pid/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a legacy perf event array with zero sizes loads as 4/4 with one slot per CPU', () => {
    using o = BpfObject.open(fixture('legacy_perf.bpfel.o')).load();
    const m = mapInfo(o.map('legacy_events').fd.value);
    expect([m.keySize, m.valueSize, m.maxEntries]).toEqual([4, 4, sys().numPossibleCpus()]);
  });
});
