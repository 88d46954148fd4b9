// `bee-ts package <probe.o | image ref> <image ref>`: a container image that runs the probe
// (src/bee/container.ts), pushed to a registry or written as an OCI / docker archive; with
// --k8s, the DaemonSet, Service and PodMonitor that deploy it (src/bee/k8s.ts).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { type ContainerImage, DEFAULT_METRICS_PORT, dockerArchive, imageBlobs, OCI_MANIFEST, ociArchive, packContainer, pullBase, sourceDateEpoch } from '../bee/container.js';
import { parseRef } from '../bee/image.js';
import { type ObjectSpec, parseObject } from '../loader/spec.js';
import { beeRoles } from '../bee/roles.js';
import { type K8sOptions, k8sManifests, toYaml } from '../bee/k8s.js';
import { RegistryClient } from '../bee/registry.js';
import { UsageError } from './errors.js';
import { type ImageFlags, registryOptions, resolveProbe, storeOf } from './images.js';
import { PKG_ROOT } from './paths.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

export interface PackageFlags {
  base?: string;
  ociArchive?: string;
  dockerArchive?: string;
  push?: boolean;
  promPort: string;
  label?: string[];
  arg?: string[];
  k8s?: string;
  namespace?: string;
  name?: string;
  privileged: boolean;
  hostPid?: boolean;
  monitor?: string;
}

function parsePort(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${flag}: '${s}' is not a port (1-65535)`);
  return n;
}

function parseLabels(list: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    if (i <= 0) throw new UsageError(`--label expects key=value, got '${l}'`);
    out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** Write `data` to `file` through a new temporary file beside it and a rename. */
function writeOutput(file: string, data: Uint8Array | string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  fs.writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

export function k8sOptions(image: string, f: Omit<PackageFlags, 'promPort'> & { promPort?: string }, hostPidDefault = false): K8sOptions {
  const monitor = f.monitor ?? 'pod';
  if (!['pod', 'service', 'none'].includes(monitor)) throw new UsageError(`--monitor: '${monitor}' is not pod, service or none`);
  const r = parseRef(image);
  return {
    image: r.name,
    name: f.name ?? r.repository.split('/').pop()!,
    namespace: f.namespace ?? 'bee-ts',
    metricsPort: parsePort(f.promPort ?? String(DEFAULT_METRICS_PORT), '--prom-port'),
    privileged: f.privileged,
    hostPID: f.hostPid ?? hostPidDefault,
    monitor: monitor as K8sOptions['monitor'],
  };
}

/** Programs whose targets are host processes (uprobes, USDT) want the host's pid namespace. */
export function wantsHostPid(spec: ObjectSpec): boolean {
  return spec.programs.some((p) => /^(uprobe|uretprobe|usdt)/.test(p.section));
}

export async function packageCommand(probe: string, ref: string, f: PackageFlags & ImageFlags, log: (s: string) => void): Promise<void> {
  const r = parseRef(ref);
  const port = parsePort(f.promPort, '--prom-port');
  const resolved = await resolveProbe(probe, f, log);
  const program = resolved.program ?? fs.readFileSync(resolved.file);
  // The image runs `bee-ts run`, which refuses a probe whose bee map markers disagree (beeRoles):
  // refuse it here, before anything is built or pushed.
  const spec = parseObject(program, { file: resolved.file });
  beeRoles(spec);
  const probeImage = resolved.program ? `${resolved.file}@${storeOf(f).resolve(resolved.file)!.descriptor.digest}` : undefined;
  const mtime = sourceDateEpoch();
  let base;
  if (f.base) {
    log(`bee-ts: pulling base image ${parseRef(f.base).name}`);
    const client = new RegistryClient(parseRef(f.base), registryOptions(f));
    base = await pullBase(client).finally(() => client.close());
  }
  const img: ContainerImage = packContainer({
    program,
    probeName: resolved.program ? resolved.file : path.basename(resolved.file),
    probeImage,
    pkgRoot: PKG_ROOT,
    version: pkg.version,
    base,
    metricsPort: port,
    args: f.arg,
    labels: parseLabels(f.label),
    mtime,
  });
  const size = img.layers.reduce((n, l) => n + l.descriptor.size, 0);
  log(`bee-ts: image ${r.name}: ${img.manifestDigest}, ${img.layers.length} layers, ${(size / 1e6).toFixed(1)} MB compressed`);
  if (f.ociArchive) {
    writeOutput(f.ociArchive, ociArchive(img, r.name, mtime));
    log(`bee-ts: wrote OCI archive ${f.ociArchive} (podman load -i ${f.ociArchive})`);
  }
  if (f.dockerArchive) {
    writeOutput(f.dockerArchive, dockerArchive(img, r.name, mtime));
    log(`bee-ts: wrote docker archive ${f.dockerArchive} (podman load -i ${f.dockerArchive}, docker load -i ${f.dockerArchive})`);
  }
  if (f.push || (!f.ociArchive && !f.dockerArchive)) {
    const client = new RegistryClient(r, registryOptions(f));
    const res = await client.pushManifest(imageBlobs(img), img.manifestBytes, OCI_MANIFEST).finally(() => client.close());
    log(`Successfully pushed ${r.name} (${res.digest}, ${res.uploaded} blob${res.uploaded === 1 ? '' : 's'} uploaded)`);
  }
  if (f.k8s) writeK8s(f.k8s, k8sOptions(r.name, f, wantsHostPid(spec)), log);
}

export function writeK8s(file: string, o: K8sOptions, log: (s: string) => void): void {
  const yaml = k8sManifests(o).map(toYaml).join('---\n');
  if (file === '-') process.stdout.write(yaml);
  else {
    writeOutput(file, yaml);
    log(`bee-ts: wrote Kubernetes manifests ${file} (kubectl apply -f ${file})`);
  }
}
