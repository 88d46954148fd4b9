// `bee-ts run --metrics-naming prometheus` on every shipped example, with real events: Prometheus'
// own linter (`promtool check metrics`) accepts the whole /metrics page; values are in base units
// (the µs histogram's buckets in seconds, next to the same probe in bee's naming); a print-only
// probe still serves bee-ts's own series; /healthz and /readyz answer as the DaemonSet expects.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { childBound, hasCommand, need, needKernel, root, waitUntil } from '../helpers.js';
import { startRun } from '../run-helper.js';

const skip = needKernel() ?? need(hasCommand('promtool'), 'promtool (apt-get install prometheus) checks the exposition format');

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

async function traffic(): Promise<void> {
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((res) => server.once('listening', res));
  const port = (server.address() as net.AddressInfo).port;
  for (let i = 0; i < 3; i++)
    await new Promise<void>((res) => {
      const c = net.connect(port, '127.0.0.1');
      c.on('data', () => undefined);
      c.on('close', () => res());
    });
  server.close();
  execFileSync('/bin/true');
  fs.readFileSync('/etc/hostname');
}

describe.skipIf(skip)('Prometheus naming on real probes', () => {
  for (const [example, series] of [
    ['tcpconnect', /^ebpf_connections_total\{saddr="127\.0\.0\.1",daddr="127\.0\.0\.1",dport="\d+"\} [1-9]/m],
    ['activeconn', /^# TYPE ebpf_active gauge$/m],
    ['readlatency', /^ebpf_read_latency_seconds_bucket\{le="0\.00001",/m],
    ['opensnoop', /^bee_ts_build_info\{version="[^"]+",node_version="v\d[^"]*",probe="opensnoop\.o",probe_digest="sha256:[0-9a-f]{64}"\} 1$/m],
    ['execsnoop', /^bee_ts_programs_attached 1$/m],
  ] as const)
    it(`${example}: promtool check metrics passes on the whole page`, async () => {
      const r = await startRun(`${root}/examples/${example}.o`, ['--metrics-naming', 'prometheus']);
      try {
        let text = '';
        await waitUntil(async () => {
          await traffic();
          text = await r.metrics();
          return series.test(text);
        }, childBound(30_000), 200);
        expect(text).toMatch(series);
        expect(text).not.toMatch(/ebpf_solo_io_/);
        const lint = promtool(text);
        expect(lint.out).toBe('');
        expect(lint.status).toBe(0);
      } finally {
        expect(await r.stop()).toBe(0);
      }
    });

  it('the µs histogram in seconds: bucket bounds are bee-naming bounds / 1e6; bee naming is still the default', async () => {
    const bee = await startRun(`${root}/examples/readlatency.o`);
    const prom = await startRun(`${root}/examples/readlatency.o`, ['--metrics-naming', 'prometheus']);
    try {
      let b = '';
      let p = '';
      await waitUntil(async () => {
        fs.readFileSync('/etc/hostname');
        [b, p] = [await bee.metrics(), await prom.metrics()];
        return b.includes('_bucket') && p.includes('_bucket');
      }, childBound(30_000), 100);
      const les = (t: string, name: string) => [...t.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"`, 'gm'))].map((m) => m[1]!).filter((x, i, a) => a.indexOf(x) === i && x !== '+Inf');
      const beeLe = les(b, 'ebpf_solo_io_hist_read_latency_us').map(Number);
      const promLe = les(p, 'ebpf_read_latency_seconds').map(Number);
      expect(beeLe).toEqual([0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]);
      expect(promLe).toEqual(beeLe.map((x) => x / 1e6));
      expect(promtool(b).status).not.toBe(0);
    } finally {
      expect(await bee.stop()).toBe(0);
      expect(await prom.stop()).toBe(0);
    }
  });

  it('/healthz and /readyz on the metrics port of a running probe; a bad --metrics-naming is a usage error', async () => {
    const r = await startRun(`${root}/examples/tcpconnect.o`);
    try {
      const get = async (p: string) => {
        const res = await fetch(`http://127.0.0.1:${r.port}${p}`);
        return [res.status, (await res.text()).trim()];
      };
      expect(await get('/healthz')).toEqual([200, 'ok']);
      expect(await get('/readyz')).toEqual([200, 'ready']);
    } finally {
      expect(await r.stop()).toBe(0);
    }
    const bad = spawnSync(process.execPath, [`${root}/dist/cli/main.js`, 'run', `${root}/examples/tcpconnect.o`, '--metrics-naming', 'statsd'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--metrics-naming: 'statsd' is not bee or prometheus");
  });
});
