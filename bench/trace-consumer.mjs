// bench/run-events --trace: preloaded into `bee-ts run` (NODE_OPTIONS=--import, BENCH_TRACE=prefix)
// to see where its drops come from without shipping any of this in bee-ts. Records every stdout
// write (bee-ts writes once per drain while records flow): when (epoch ms), how long it took, its
// bytes, and the main thread's CPU and run-queue wait so far (/proc/thread-self/schedstat); and
// every GC pause (perf_hooks). Written to BENCH_TRACE.<pid>.json when the process exits.
import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const prefix = process.env.BENCH_TRACE;
if (prefix && process.argv.includes('run')) {
  const origin = performance.timeOrigin;
  const schedstat = `/proc/${process.pid}/task/${process.pid}/schedstat`;
  const sched = () => fs.readFileSync(schedstat, 'utf8').split(' ').map((v) => Number(v) / 1e6);
  const writes = []; // [epoch ms, write ms, bytes, thread CPU ms, run-queue wait ms]
  const gcs = []; // [epoch ms, pause ms, kind]
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk, ...rest) => {
    const a = performance.now();
    const r = write(chunk, ...rest);
    const b = performance.now();
    const [cpu, wait] = sched();
    writes.push([origin + a, b - a, chunk.length, cpu, wait]);
    return r;
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push([origin + e.startTime, e.duration, e.detail?.kind]);
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => fs.writeFileSync(`${prefix}.${process.pid}.json`, JSON.stringify({ writes, gcs })));
}
