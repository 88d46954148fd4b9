// `bee-ts package` end to end with real parts: the image is loaded and run by podman (Debian's,
// with runc) privileged, with the host's bpffs and tracefs mounted as the DaemonSet mounts them;
// the probe loads in the container and a real Prometheus server, started here on loopback,
// scrapes it; its query API returns the probe's series. A base image is pulled from a real
// registry (Debian's docker-registry) and the result pushed there and pulled by podman.
// README's container section is this path.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { hasCommand, need, needKernel, root, runCli } from '../helpers.js';
import { freePort, startRegistry } from '../registry-helper.js';

const skip =
  needKernel() ??
  need(hasCommand('podman') && hasCommand('runc') && hasCommand('prometheus') && hasCommand('docker-registry'), 'podman, runc, prometheus and docker-registry are needed: apt-get install podman runc prometheus docker-registry');

const tag = `bee-ts-test-${process.pid}`;
const tcpconnect = path.join(root, 'examples', 'tcpconnect.o');

function sh(cmd: string, args: string[], timeout = 120_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** podman with runc (crun fails on this host's hybrid cgroups). */
const podman = (...args: string[]) => sh('podman', ['--runtime', 'runc', ...args]);

/**
 * The README's run line: privileged, the host's network, bpffs/tracefs/debugfs as the DaemonSet
 * mounts them, and limits a host without CAP_SYS_RESOURCE can set (podman's defaults are higher).
 */
function runArgs(name: string, image: string, port: number): string[] {
  const mounts = ['/sys/fs/bpf', '/sys/kernel/tracing', '/sys/kernel/debug'].filter((m) => fs.existsSync(m)).flatMap((m) => ['-v', `${m}:${m}`]);
  return ['run', '-d', '--name', name, '--privileged', '--network', 'host', '--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=4096:4096', ...mounts, image, '--prom-port', String(port), '--prom-address', '127.0.0.1', '--poll-interval', '200ms'];
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Connections to a local server, which tcpconnect counts by address pair. */
async function connectTimes(port: number, n: number): Promise<void> {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  for (let i = 0; i < n; i++)
    await new Promise<void>((res, rej) => {
      const c = net.connect(port, '127.0.0.1', () => c.end());
      c.on('close', () => res());
      c.on('error', rej);
    });
  await new Promise<void>((r) => server.close(() => r()));
}

async function startPrometheus(dir: string, target: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: bee-ts\n    static_configs:\n      - targets: ['${target}']\n`);
  const proc = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus to be ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000);
  return { url, proc };
}

async function query(url: string, q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (r.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(r)}`);
  return r.data.result;
}

const archiveFile = (archive: string, member: string) => sh('tar', ['-xOf', archive, member]).stdout;

describe.skipIf(skip)('bee-ts package: a container image podman runs and Prometheus scrapes', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-pkg-'));
  const containers: string[] = [];
  const images: string[] = [];
  const procs: ChildProcess[] = [];
  let registry: { host: string; proc: ChildProcess };
  const image = `localhost/${tag}/tcpconnect:v1`;
  const archive = path.join(tmp, 'tcpconnect.oci.tar');

  beforeAll(async () => {
    fs.mkdirSync(path.join(tmp, 'registry'));
    registry = await startRegistry(path.join(tmp, 'registry'), false);
    procs.push(registry.proc);
  }, 60_000);
  afterAll(() => {
    for (const c of containers) podman('rm', '-f', '-t', '2', c);
    for (const i of images) podman('rmi', '-f', i);
    for (const p of procs) p.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs reproducibly: two packs give the same digest; config, labels and layers as promised', () => {
    const a = runCli(['package', tcpconnect, image, '--oci-archive', archive]);
    expect(a.status, a.stderr).toBe(0);
    const b = runCli(['package', tcpconnect, image, '--oci-archive', path.join(tmp, 'again.tar')]);
    expect(b.status, b.stderr).toBe(0);
    const digestOf = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    expect(digestOf(path.join(tmp, 'again.tar'))).toBe(digestOf(archive));
    const index = JSON.parse(archiveFile(archive, 'index.json'));
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe(image);
    const mdigest: string = index.manifests[0].digest;
    expect(a.stderr).toContain(mdigest);
    const manifest = JSON.parse(archiveFile(archive, `blobs/sha256/${mdigest.slice(7)}`));
    expect(manifest.layers).toHaveLength(3);
    const config = JSON.parse(archiveFile(archive, `blobs/sha256/${manifest.config.digest.slice(7)}`));
    expect(config.config.Entrypoint.slice(1)).toEqual(['/opt/bee-ts/dist/cli/main.cjs', 'run', '/probe/probe.o']);
    expect(config.config.Entrypoint[0]).toMatch(/\/node$/);
    expect(config.config.ExposedPorts).toEqual({ '9091/tcp': {} });
    const probeDigest = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(tcpconnect)).digest('hex')}`;
    expect(config.config.Labels['io.bee-ts.probe.digest']).toBe(probeDigest);
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    // Every layer entry: root-owned, no names, the fixed time (GNU tar reads the gzip layers).
    for (const l of manifest.layers) {
      // TZ=UTC: GNU tar prints the times in the local time zone.
      const t = spawnSync('sh', ['-c', `tar -xOf '${archive}' 'blobs/sha256/${l.digest.slice(7)}' | tar -tvz --numeric-owner --full-time`], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, TZ: 'UTC' } });
      expect(t.status, t.stderr).toBe(0);
      for (const row of t.stdout.trim().split('\n')) expect(row).toMatch(/^\S+ 0\/0 +\d+ 1970-01-01 00:00:00 /);
    }
    // The runtime carries node, its libraries and koffi's native module for this platform.
    const listing = spawnSync('sh', ['-c', `for d in $(tar -tf '${archive}' | grep '^blobs/sha256/.'); do tar -xOf '${archive}' "$d" | tar -tz 2>/dev/null; done`], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout;
    expect(listing).toMatch(/(^|\n)(usr\/)?lib\/x86_64-linux-gnu\/libc\.so\.6\n/);
    expect(listing).toContain('opt/bee-ts/node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node');
    expect(listing).toContain('opt/bee-ts/node_modules/prom-client/package.json');
    expect(listing).not.toContain('opt/bee-ts/node_modules/vitest/');
    expect(listing).toContain('probe/probe.o');
    // SOURCE_DATE_EPOCH moves every timestamp, so the digest changes.
    const c = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'package', tcpconnect, image, '--oci-archive', path.join(tmp, 'epoch.tar')], { encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '86400' } });
    expect(c.status, c.stderr).toBe(0);
    expect(JSON.parse(archiveFile(path.join(tmp, 'epoch.tar'), 'index.json')).manifests[0].digest).not.toBe(mdigest);
    fs.rmSync(path.join(tmp, 'again.tar'));
    fs.rmSync(path.join(tmp, 'epoch.tar'));
  }, 300_000);

  it("README's container section runs this path: the same package, podman and Prometheus steps", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Containers, Kubernetes and Prometheus'), readme.indexOf('## All commands'));
    const flat = section.replace(/\\\n\s*/g, '');
    expect(flat).toMatch(/npx bee-ts package tcpconnect\.o \S+ --oci-archive tcpconnect\.tar/);
    expect(flat).toContain('podman load -i tcpconnect.tar');
    const run = /podman run .*/.exec(flat)![0];
    for (const a of runArgs('NAME', 'IMAGE', 1).slice(4, runArgs('NAME', 'IMAGE', 1).indexOf('IMAGE'))) expect(run.split(/\s+/)).toContain(a);
    expect(run).toContain('--runtime runc');
    expect(flat).toContain('/api/v1/query?query=ebpf_solo_io_counter_connections');
  });

  it('podman runs it privileged, the probe loads, and a real Prometheus gets the probe series', async () => {
    const load = podman('load', '-i', archive);
    expect(load.status, load.stderr).toBe(0);
    images.push(image);
    expect(load.stdout + load.stderr).toContain(image);
    const inspect = JSON.parse(podman('image', 'inspect', image).stdout)[0];
    expect(inspect.Config.Labels['io.bee-ts.probe.digest']).toMatch(/^sha256:/);
    const metricsPort = await freePort();
    const name = `${tag}-run`;
    const run = podman(...runArgs(name, image, metricsPort));
    expect(run.status, run.stderr).toBe(0);
    containers.push(name);
    await waitFor('the probe to start in the container', () => (podman('logs', name).stderr.includes('bee-ts: running') ? true : undefined), 60_000).catch((e) => {
      throw new Error(`${e}; logs: ${podman('logs', name).stderr}`);
    });
    const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    expect([ready.status, (await ready.text()).trim()]).toEqual([200, 'ready']);
    const target = await freePort();
    await connectTimes(target, 3);
    const prom = await startPrometheus(tmp, `127.0.0.1:${metricsPort}`);
    procs.push(prom.proc);
    const series = await waitFor('Prometheus to have the series', async () => {
      const r = await query(prom.url, `ebpf_solo_io_counter_connections{dport="${target}"}`);
      return r.length && Number(r[0]!.value[1]) >= 3 ? r : undefined;
    });
    expect(series[0]!.metric).toMatchObject({ job: 'bee-ts', daddr: '127.0.0.1', saddr: '127.0.0.1', dport: String(target) });
    expect(Number(series[0]!.value[1])).toBe(3);
    expect((await query(prom.url, 'up{job="bee-ts"}'))[0]!.value[1]).toBe('1');
    // SIGTERM (podman stop) detaches and exits 0.
    const stop = podman('stop', '-t', '20', name);
    expect(stop.status, stop.stderr).toBe(0);
    expect(podman('inspect', name, '--format', '{{.State.ExitCode}}').stdout.trim()).toBe('0');
  }, 240_000);

  it("the DaemonSet's --no-privileged capabilities are enough: podman with only those loads the probe; with none it cannot", async () => {
    const k = runCli(['k8s', image, '--no-privileged']);
    expect(k.status, k.stderr).toBe(0);
    const sc = (parseAllDocuments(k.stdout).map((d) => d.toJS()).find((d) => d.kind === 'DaemonSet') as any).spec.template.spec.containers[0].securityContext;
    expect(sc.capabilities.drop).toEqual(['ALL']);
    expect(sc.seccompProfile).toEqual({ type: 'Unconfined' });
    const asManifest = (name: string, port: number, caps: string[]) => {
      const args = runArgs(name, image, port).filter((a) => a !== '--privileged');
      args.splice(1, 0, '--cap-drop', 'ALL', ...(caps.length ? ['--cap-add', caps.join(',')] : []), '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined');
      return args;
    };
    const port = await freePort();
    const name = `${tag}-caps`;
    const run = podman(...asManifest(name, port, sc.capabilities.add));
    expect(run.status, run.stderr).toBe(0);
    containers.push(name);
    await waitFor('the probe to be ready with capabilities only', async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined), 60_000).catch((e) => {
      throw new Error(`${e}; logs: ${podman('logs', name).stderr}`);
    });
    podman('rm', '-f', '-t', '5', name);
    const none = `${tag}-nocaps`;
    const fail = podman(...asManifest(none, await freePort(), []));
    expect(fail.status, fail.stderr).toBe(0);
    containers.push(none);
    const exit = await waitFor('the capability-less container to exit', () => {
      const st = podman('inspect', none, '--format', '{{.State.Status}} {{.State.ExitCode}}').stdout.trim();
      return st.startsWith('exited') ? st : undefined;
    });
    expect(exit).not.toBe('exited 0');
    expect(podman('logs', none).stderr).toMatch(/EPERM/);
  }, 180_000);

  it('packages a bee image from the local store (its digest labelled) and writes manifests for it with --k8s', () => {
    const store = path.join(tmp, 'store');
    const beeRef = `${registry.host}/${tag}/probe:1`;
    const obj = path.join(tmp, 'tcpconnect-built.o');
    const b = runCli(['--storage', store, 'build', path.join(root, 'examples', 'tcpconnect.c'), beeRef, '-o', obj]);
    expect(b.status, b.stderr).toBe(0);
    const out = path.join(tmp, 'from-ref.tar');
    const k8s = path.join(tmp, 'from-ref.yaml');
    const p = runCli(['--storage', store, 'package', beeRef, `localhost/${tag}/from-ref:1`, '--oci-archive', out, '--k8s', k8s, '--namespace', 'probes']);
    expect(p.status, p.stderr).toBe(0);
    const index = JSON.parse(archiveFile(out, 'index.json'));
    const manifest = JSON.parse(archiveFile(out, `blobs/sha256/${index.manifests[0].digest.slice(7)}`));
    const labels = JSON.parse(archiveFile(out, `blobs/sha256/${manifest.config.digest.slice(7)}`)).config.Labels;
    expect(labels['io.bee-ts.probe.digest']).toBe(`sha256:${crypto.createHash('sha256').update(fs.readFileSync(obj)).digest('hex')}`);
    expect(labels['io.bee-ts.probe.image']).toMatch(new RegExp(`^${beeRef.replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    const yaml = fs.readFileSync(k8s, 'utf8');
    expect(yaml).toContain(`image: "localhost/${tag}/from-ref:1"`);
    expect(yaml).toContain('hostPID: false');
    expect(yaml).toContain('namespace: probes');
    fs.rmSync(out);
  }, 120_000);

  it('--base pulls a base image from a registry; the result is pushed and podman pulls and runs it; docker-archive loads too', async () => {
    const base = `${registry.host}/${tag}/base:1`;
    const app = `${registry.host}/${tag}/activeconn:1`;
    const p1 = runCli(['--plain-http', 'package', tcpconnect, base]);
    expect(p1.status, p1.stderr).toBe(0);
    expect(p1.stderr).toContain(`Successfully pushed ${base}`);
    const dockerArchive = path.join(tmp, 'activeconn.docker.tar');
    const p2 = runCli(['--plain-http', 'package', path.join(root, 'examples', 'activeconn.o'), app, '--base', base, '--push', '--docker-archive', dockerArchive]);
    expect(p2.status, p2.stderr).toBe(0);
    const getManifest = async (ref: string) => {
      const [host, ...rest] = ref.split('/');
      const [repo, t] = rest.join('/').split(':');
      return (await (await fetch(`http://${host}/v2/${repo}/manifests/${t}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[]; config: { digest: string } };
    };
    const bm = await getManifest(base);
    const am = await getManifest(app);
    // The base's layers, as they are, then bee-ts and the probe.
    expect(am.layers.slice(0, bm.layers.length)).toEqual(bm.layers);
    expect(am.layers).toHaveLength(bm.layers.length + 2);
    const cfg = (await (await fetch(`http://${registry.host}/v2/${tag}/activeconn/blobs/${am.config.digest}`)).json()) as { config: { Entrypoint: string[]; Labels: Record<string, string> } };
    expect(cfg.config.Entrypoint[0]).toBe('node');
    expect(cfg.config.Labels['org.opencontainers.image.base.name']).toBe(base);

    const pull = podman('pull', '--tls-verify=false', app);
    expect(pull.status, pull.stderr).toBe(0);
    images.push(app);
    const metricsPort = await freePort();
    const name = `${tag}-base`;
    const run = podman(...runArgs(name, app, metricsPort));
    expect(run.status, run.stderr).toBe(0);
    containers.push(name);
    const metrics = await waitFor('metrics from the pulled image', async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return r.ok ? r.text() : undefined;
    });
    expect(metrics).toContain('# TYPE ebpf_solo_io_gauge_active gauge');
    podman('rm', '-f', '-t', '5', name);

    const dname = `localhost/${tag}/docker-archive:1`;
    const tagged = runCli(['--plain-http', 'package', tcpconnect, dname, '--docker-archive', dockerArchive + '.2']);
    expect(tagged.status, tagged.stderr).toBe(0);
    const load = podman('load', '-i', dockerArchive + '.2');
    expect(load.status, load.stderr).toBe(0);
    images.push(dname);
    const labels = JSON.parse(podman('image', 'inspect', dname).stdout)[0].Config.Labels;
    expect(labels['io.bee-ts.probe.name']).toBe('tcpconnect.o');
  }, 300_000);
});
