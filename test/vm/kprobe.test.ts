// Runs inside Debian's kernel (npm run test:vm): kprobes, kretprobes, the tracefs fallback,
// module (split) BTF, and cleanup on signals.
import '../../src/syscall/native.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../../src/btf/btf.js';
import { BtfKind } from '../../src/btf/types.js';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, libEntry, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const getppid = koffi.load('libc.so.6').func('int getppid()');
const kprobeEvents = () => fs.readFileSync('/sys/kernel/tracing/kprobe_events', 'utf8');

describe.skipIf(skip)('kprobes in the VM', () => {
  it('this kernel has the kprobe PMU', () => {
    expect(fs.existsSync('/sys/bus/event_source/devices/kprobe/type')).toBe(true);
  });

  it('a kprobe + kretprobe object attaches through the PMU and its maps fill', () => {
    using o = BpfObject.open(fixture('kprobe.bpfel.o')).load();
    const links = o.attachAll();
    expect(links.map((l) => l.kind).sort()).toEqual(['kprobe', 'kretprobe']);
    for (let i = 0; i < 10; i++) getppid();
    expect(o.map('calls').lookup(process.pid) as bigint).toBeGreaterThanOrEqual(10n);
    expect(o.globals.get('entries') as bigint).toBeGreaterThanOrEqual(10n);
    expect(o.globals.get('returns') as bigint).toBeGreaterThanOrEqual(10n);
    for (const l of links) l.close();
  });

  it('the legacy tracefs kprobe_events path works and cleans up', () => {
    using o = BpfObject.open(fixture('kprobe.bpfel.o')).load();
    const entry = o.program('on_entry').attach({ legacy: true });
    const ret = o.program('on_return').attach({ legacy: true });
    expect(kprobeEvents()).toMatch(new RegExp(`bee_ts_${process.pid}/`));
    for (let i = 0; i < 5; i++) getppid();
    expect(o.globals.get('entries') as bigint).toBeGreaterThanOrEqual(5n);
    expect(o.globals.get('last_ret')).toBe(BigInt(process.ppid));
    entry.close();
    ret.close();
    expect(kprobeEvents()).not.toMatch(new RegExp(`bee_ts_${process.pid}/`));
  });

  it('a missing kprobe target gives a clear error', () => {
    using o = BpfObject.open(fixture('kprobe.bpfel.o')).load();
    expect(() => o.program('on_entry').attach({ target: 'no_such_function_bee_ts' })).toThrow(/cannot attach kprobe no_such_function_bee_ts: .*does not exist or cannot be probed/);
  });

  it('SIGINT leaves no tracefs events behind', async () => {
    const script = `
      import('${libEntry}').then(({ BpfObject, closeLinksOnSignals }) => {
        closeLinksOnSignals();
        const o = BpfObject.open('${fixture('kprobe.bpfel.o')}').load();
        o.program('on_entry').attach({ legacy: true });
        console.log('attached');
        setInterval(() => {}, 1000);
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout.on('data', (d) => String(d).includes('attached') && res()));
    expect(kprobeEvents()).toMatch(new RegExp(`bee_ts_${child.pid}/`));
    child.kill('SIGINT');
    await new Promise((res) => child.on('exit', res));
    expect(kprobeEvents()).not.toMatch(new RegExp(`bee_ts_${child.pid}/`));
  });

  it('a typed __ksym (per-CPU kernel variable) resolves on a kernel with CONFIG_KALLSYMS_ALL', () => {
    using o = BpfObject.open(fixture('ksym_typed.bpfel.o')).load();
    o.program('use_typed_ksym').testRun();
    expect(o.globals.get('rq_cpu')).toBe(0);
  });

  it('module BTF parses as split BTF on top of vmlinux', () => {
    const base = parseBtf(fs.readFileSync('/sys/kernel/btf/vmlinux'));
    const mods = fs.readdirSync('/sys/kernel/btf').filter((m) => m !== 'vmlinux');
    expect(mods).toContain('9p');
    const m = parseBtf(fs.readFileSync('/sys/kernel/btf/9p'), { base, file: '9p' });
    expect(m.firstId).toBe(base.count);
    expect(m.count).toBeGreaterThan(base.count);
    expect(m.find('v9fs_session_info', BtfKind.Struct)).toBeDefined();
  });
});
