// perf_event programs: a software cpu-clock sampling event on every online CPU, the program
// attached to each. The section names no event, and libbpf has no auto-attach for it (a default
// sampler would silently sample the wrong event): attach({ sampleFreq }) is explicit.
import { sys } from '../syscall/backend.js';
import { BpfError, ENODEV } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE, perfEventOpen } from '../syscall/perf.js';
import { defineHook } from './kinds.js';
import { BaseLink } from './link.js';
import { attachPerfEvent, type PerfCookieOption } from './perf.js';

export interface PerfEventOptions extends PerfCookieOption {
  /** Samples per second per CPU (default 99). */
  sampleFreq?: number;
}

export const perfEventHook = defineHook('perf_event', 'never', (p, _target, o: PerfEventOptions) => {
  const ncpu = sys().numPossibleCpus();
  const perfs: Fd[] = [];
  const links: Fd[] = [];
  try {
    for (let cpu = 0; cpu < ncpu; cpu++) {
      let perf: Fd;
      try {
        perf = perfEventOpen({ type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_CPU_CLOCK), samplePeriod: BigInt(o.sampleFreq ?? 99), freq: true }, -1, cpu, `perf_event cpu ${cpu}`);
      } catch (e) {
        if (e instanceof BpfError && e.errno === ENODEV /* offline CPU */) continue;
        throw e;
      }
      perfs.push(perf);
      const l = attachPerfEvent(perf, p.fd.value, `perf_event cpu ${cpu}`, o.cookie);
      if (l) links.push(l);
    }
  } catch (e) {
    for (const f of [...links, ...perfs]) f.close();
    throw e;
  }
  return new BaseLink('perf_event', p.name, `cpu-clock ${o.sampleFreq ?? 99} Hz on ${perfs.length} CPUs`, links[0], { owned: [...links.slice(1), ...perfs] });
});
