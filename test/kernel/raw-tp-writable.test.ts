// A writable raw tracepoint program (SEC("raw_tp.w/bpf_test_finish")): the tracepoint fires at
// the end of every BPF_PROG_TEST_RUN of a socket filter, with a pointer to the run's result code;
// the program counts this process's runs and, told to, overwrites the code, which the test run
// then returns as its error. Detached, runs succeed again.
import '../../src/syscall/native.js';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fixture, needKernel } from '../helpers.js';

const skip = needKernel();
const ENODATA = 61; // one no test run answers by itself

describe.skipIf(skip)('writable raw tracepoints', () => {
  it('raw_tp.w/bpf_test_finish sees every test run of this process, and a result it rewrites is what the run returns', () => {
    using filter = BpfObject.open(fixture('sock.bpfel.o'), { autoload: ['count_socket'] }).load();
    const run = () => filter.program('count_socket').testRun({ dataIn: new Uint8Array(64) });
    using o = BpfObject.open(fixture('raw_tp_writable.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    {
      using l = o.program('rewrite_result').attach();
      expect(l.kind).toBe('raw_tracepoint');
      for (let i = 0; i < 3; i++) run();
      expect(o.globals.get('finish_hits')).toBe(3n);
    }
    run();
    expect(o.globals.get('finish_hits')).toBe(3n);

    using w = BpfObject.open(fixture('raw_tp_writable.bpfel.o'));
    w.setConstant('target_tgid', process.pid).setConstant('set_err', -ENODATA);
    w.load();
    {
      using _l = w.program('rewrite_result').attach();
      expect(run).toThrow(/BPF_PROG_TEST_RUN: ENODATA/);
      expect(w.globals.get('finish_hits')).toBe(1n);
    }
    expect(run().retval).toBe(50); // the filter's own verdict: skb->len, the 64 bytes past the Ethernet header
  });
});
