// Runs inside Debian's kernels (npm run test:vm): sleepable tracing (fentry.s, fexit.s, fmod_ret.s;
// tracing is refused on the host) and a TC action (act_bpf on a matchall filter; the host kernel
// has no act_bpf), each counting only its own events (this process's test runs, its own port);
// lirc_mode2, which no kernel here has, is refused naming the option.
import '../../src/syscall/native.js';
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import { linuxKernelVersion } from '../../src/loader/kconfig.js';
import { BpfObject } from '../../src/loader/object.js';
import { sys } from '../../src/syscall/backend.js';
import { fixture, need, needKernel, thrown, waitUntil } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const atLeast = (major: number, minor: number) => linuxKernelVersion() >= ((major << 16) | (minor << 8));
const VALUE = 0x0a0b0c0d01020304n;
const S_TRACING = ['s_fentry', 's_fexit', 's_fmod_ret', 's_fentry_args', 's_fexit_args'];

describe.skipIf(skip)('more attach kinds in the VM', () => {
  it('fentry.s, fexit.s, fmod_ret.s on bpf_fentry_test1 (6.2+: its sleepable fmod_ret set) run for every test run and copy user memory; before 6.2 a NotSupportedError names what is missing', () => {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(VALUE);
    const o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: S_TRACING });
    o.setConstant('target_tgid', process.pid).setConstant('user_addr', sys().addressOf(buf));
    if (!atLeast(6, 2)) {
      const err = thrown(() => o.load());
      expect(err).toBeInstanceOf(NotSupportedError);
      expect((err as Error).message).toMatch(/sleepable tracing \((fentry|fexit|fmod_ret)\.s\) on bpf_fentry_test1 needs Linux 6\.2 or later.*CONFIG_FUNCTION_ERROR_INJECTION/s);
      o.close();
      return;
    }
    using _o = o.load();
    const links = o.attachAll();
    try {
      expect(links.map((l) => l.kind).sort()).toEqual(['fentry.s', 'fentry.s', 'fexit.s', 'fexit.s', 'fmod_ret.s']);
      // A test run of an fentry program calls bpf_fentry_test1(1) (which returns 2): fmod_ret.s leaves it be.
      for (let i = 0; i < 3; i++) expect(o.program('s_fentry_args').testRun().retval).toBe(0);
    } finally {
      for (const l of links) l.close();
    }
    for (const n of ['s_fentry', 's_fexit', 's_fmod_ret']) expect([o.globals.get(`${n}_hits`), o.globals.get(`${n}_copied`)], n).toEqual([3n, VALUE]);
    expect([o.globals.get('s_fentry_arg'), o.globals.get('s_fexit_ret')]).toEqual([1n, 2n]);
    expect(buf.readBigUInt64LE()).toBe(VALUE);
  });

  it('lirc_mode2: refused at load, naming CONFIG_BPF_LIRC_MODE2 (Debian builds rc-core as a module, and the option needs it built in)', () => {
    const o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_lirc'] });
    const err = thrown(() => o.load());
    expect(err).toBeInstanceOf(NotSupportedError);
    expect((err as Error).message).toMatch(/lirc_mode2 programs \(CONFIG_BPF_LIRC_MODE2, with rc-core: CONFIG_RC_CORE\).*this kernel does not know the program type/);
    o.close();
  });

  it('action: act_bpf on a matchall filter on lo ingress counts the datagrams sent to this test\'s port; the filter goes on close', async () => {
    const rx = dgram.createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    try {
      const port = rx.address().port;
      const o = BpfObject.open(fixture('attach_more.bpfel.o'), { autoload: ['count_act'] });
      o.setConstant('udp_port', port);
      using _o = o.load();
      expect(() => o.program('count_act').attach()).toThrow(/pass \{ iface: 'eth0', tcDirection: 'ingress' \}/);
      const tx = dgram.createSocket('udp4');
      const sendN = async (n: number) => {
        for (let i = 0; i < n; i++) await new Promise<void>((r) => tx.send('act', port, '127.0.0.1', () => r()));
      };
      try {
        {
          using l = o.program('count_act').attach({ iface: 'lo', tcDirection: 'ingress' });
          expect(l.kind).toBe('tc_action');
          await sendN(4);
          await waitUntil(() => (o.globals.get('act_hits') as bigint) >= 4n);
          expect(o.globals.get('act_hits')).toBe(4n);
        }
        await sendN(2);
        expect(o.globals.get('act_hits')).toBe(4n);
      } finally {
        tx.close();
      }
    } finally {
      rx.close();
    }
  });
});
