// Soak (bounded, loopback only): a flooding producer (file opens for opensnoop), a stalled
// consumer (stdout is a pipe nobody reads) and a metrics scraper. RSS must stay bounded, drops be
// counted (metrics) and reported (stderr), and SIGINT end the run within 2 s with nothing left.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli, needKernel, root, waitUntil } from '../helpers.js';
import { metricsPort, progIdsOf, progsLeft } from '../run-helper.js';

const skip = needKernel();

const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe.skipIf(skip)('soak: flood, stalled stdout, scraper', () => {
  it('RSS stays bounded, drops are counted and reported, SIGINT exits within 2 s leaving nothing', async () => {
    const run = spawn(process.execPath, [cli, 'run', `${root}/examples/opensnoop.o`, '--no-tty', '--prom-address', '127.0.0.1', '--prom-port', '0', '--stats-interval', '1s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    run.stderr.on('data', (d) => (stderr += d));
    // The consumer never reads: the pipe fills and stdout reports backpressure.
    run.stdout.pause();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => run.once('exit', (code, signal) => res({ code, signal })));
    await waitUntil(() => /bee-ts: running .*\n/.test(stderr), 45_000);
    expect(stderr).toContain('bee-ts: running');
    const port = metricsPort(stderr);
    expect(port).toBeGreaterThan(0);
    const ids = progIdsOf(run.pid!);
    expect(ids.length).toBeGreaterThan(0);
    // The producer: as many opens as one process can make, for 8 s.
    const flood = spawn(process.execPath, ['-e', "const fs = require('fs'); const end = Date.now() + 8000; let n = 0; while (Date.now() < end) { fs.closeSync(fs.openSync('/etc/hostname', 'r')); n++; } console.log(n);"], { stdio: ['ignore', 'pipe', 'inherit'] });
    let opens = '';
    flood.stdout.on('data', (d) => (opens += d));
    const floodDone = new Promise((res) => flood.once('exit', res));
    // The scraper, and RSS samples every 250 ms.
    const rss: number[] = [];
    let scrapes = 0;
    let lastPage = '';
    const t0 = Date.now();
    while (Date.now() - t0 < 8000) {
      rss.push(rssMiB(run.pid!));
      try {
        lastPage = await (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
        scrapes++;
      } catch {
        /* a slow scrape under load is not the point here */
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await floodDone;
    const settled = rss.slice(4); // after the first second
    const growth = Math.max(...settled) - settled[0]!;
    const dropped = Number(/^bee_ts_records_dropped_total\{map="print_opens",reason="output_queue"\} (\d+)/m.exec(lastPage)?.[1] ?? 0);
    const records = Number(/^bee_ts_records_total\{map="print_opens"\} (\d+)/m.exec(lastPage)?.[1] ?? 0);
    console.log(`soak: ${opens.trim()} opens, ${records} records read, ${dropped} dropped at the queue, ${scrapes} scrapes, RSS ${settled[0]!.toFixed(0)} → max ${Math.max(...settled).toFixed(0)} MiB`);
    expect(scrapes).toBeGreaterThan(10);
    expect(records).toBeGreaterThan(10_000);
    expect(dropped).toBeGreaterThan(0);
    expect(lastPage).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(stderr).toMatch(/bee-ts: last 1s: print_opens: \d+ dropped at the output queue \(stdout too slow\)/);
    // Bounded: the queue holds 8 MiB of lines; the old reader grew ~26 MiB/s here.
    expect(growth).toBeLessThan(96);
    // SIGINT with the pipe still full: out within 2 s, exit 0, its programs gone.
    const t = Date.now();
    run.kill('SIGINT');
    const end = await exited;
    expect(Date.now() - t).toBeLessThan(2000);
    expect(end).toEqual({ code: 0, signal: null });
    expect(stderr).toMatch(/bee-ts: in total: print_opens: \d+ dropped at the output queue/);
    expect(await progsLeft(ids)).toEqual([]);
  });
});

