// `bee-ts package`: an OCI container image that runs `bee-ts run` on a probe, built without a
// container daemon. Layers (reproducible tars, gzip): a Node runtime assembled from the running
// node binary and the shared libraries it and koffi's native module need (unless a base image is
// given), bee-ts with its production dependencies under /opt/bee-ts, and the probe at
// /probe/probe.o. The image config runs `node /opt/bee-ts/dist/cli/main.cjs run /probe/probe.o`,
// exposes the metrics port and labels the probe's digest. Output: a registry push, an OCI image
// layout archive, or a docker-archive (`docker save`'s format), which `podman load` reads.
import { BeeTsError } from '../errors.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { type Descriptor, ImageError, sha256 } from './image.js';
import type { RegistryClient } from './registry.js';
import { type TarEntry, tarPath, writeTar } from './tar.js';

/** A container image cannot be built from what is here (a library, a dependency, a layer). */
export class PackageError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('PACKAGE', message, options);
  }
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';
export const BASE_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

/** Where things live inside the image. */
export const APP_DIR = '/opt/bee-ts';
export const PROBE_PATH = '/probe/probe.o';
export const DEFAULT_METRICS_PORT = 9091;
/** Labels on the image config. */
export const LABEL_PROBE_DIGEST = 'io.bee-ts.probe.digest';
export const LABEL_PROBE_NAME = 'io.bee-ts.probe.name';
export const LABEL_PROBE_IMAGE = 'io.bee-ts.probe.image';
export const LABEL_METRICS_PORT = 'io.bee-ts.metrics.port';

/** A layer blob larger than this (from a base image) is refused rather than held in memory. */
export const MAX_BASE_BLOB = 1 << 30;

export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

export interface Layer {
  descriptor: Descriptor;
  diffId: string;
  blob: Uint8Array;
  /** What made it (the history line). */
  createdBy: string;
}

/** A base image's parts: its config and its layers, blobs included. */
export interface BaseImage {
  ref: string;
  digest: string;
  config: ImageConfig;
  layers: Layer[];
}

export interface ContainerImage {
  config: ImageConfig;
  configBytes: Uint8Array;
  configDigest: string;
  layers: Layer[];
  manifestBytes: Uint8Array;
  manifestDigest: string;
}

/** Go's architecture names, which image configs use. */
export function ociArch(nodeArch: string = process.arch): string {
  const m: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', riscv64: 'riscv64', ppc64: 'ppc64le', s390x: 's390x' };
  return m[nodeArch] ?? nodeArch;
}

/** The fixed timestamp of every layer entry and of the config: SOURCE_DATE_EPOCH, else 0. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const s = env.SOURCE_DATE_EPOCH;
  if (s === undefined || s === '') return 0;
  if (!/^\d{1,12}$/.test(s)) throw new PackageError(`SOURCE_DATE_EPOCH='${s}' is not a number of seconds`);
  return Number(s);
}

/** A reproducible gzip layer from tar entries. */
export function makeLayer(entries: TarEntry[], mtime: number, createdBy: string): Layer {
  const tar = writeTar(entries, mtime);
  const blob = zlib.gzipSync(tar, { level: 6 });
  return { descriptor: { mediaType: OCI_LAYER_GZIP, digest: sha256(blob), size: blob.length }, diffId: sha256(tar), blob, createdBy };
}

/**
 * Tar entries that recreate host path `p` as the host resolves it: every symbolic link met on
 * the way (`/lib` → `usr/lib`, `/lib64/ld-linux-x86-64.so.2` → ...) becomes a link entry, and the
 * file itself sits at its real path. Returns the real path.
 */
export function mirrorHostPath(p: string, out: Map<string, TarEntry>, depth = 0): string {
  if (depth > 40) throw new PackageError(`${p}: too many levels of symbolic links`);
  const parts = tarPath(p).split('/');
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i]!);
    const st = fs.lstatSync(next);
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(next);
      out.set(tarPath(next), { path: tarPath(next), type: 'symlink', target });
      cur = mirrorHostPath(path.resolve(cur, target), out, depth + 1);
    } else cur = next;
  }
  const st = fs.statSync(cur);
  if (st.isFile() && !out.has(tarPath(cur))) out.set(tarPath(cur), { path: tarPath(cur), type: 'file', data: fs.readFileSync(cur), executable: (st.mode & 0o111) !== 0 });
  return cur;
}

/**
 * The shared libraries (and the ELF interpreter) a binary needs, as `ldd` resolves them here.
 * With `otherLibc`, a binary built for a C library this host lacks (koffi's musl build) has none.
 */
export function sharedLibraries(binary: string, otherLibc = false): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new PackageError(`cannot list the shared libraries of ${binary}: ldd: ${r.error.message} (ldd comes with the C library; or give a base image with --base)`);
  if (r.status !== 0) {
    if (/not a dynamic executable|statically linked/.test(r.stdout + r.stderr)) return [];
    throw new PackageError(`ldd ${binary} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (/=>\s*not found/.test(line) && otherLibc && /\blibc\.musl|\bld-musl/.test(line)) return [];
    if (/=>\s*not found/.test(line)) throw new PackageError(`${binary} needs ${line.trim().split(/\s/)[0]}, which is not installed here`);
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

/** Every regular file and symbolic link under `dir` (recursively), as entries at `dest/<rel>`. */
function treeEntries(dir: string, dest: string, out: TarEntry[], skip: (rel: string) => boolean = () => false, rel = ''): void {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip(r)) continue;
    const full = path.join(dir, r);
    const st = fs.lstatSync(full);
    if (st.isSymbolicLink()) out.push({ path: `${dest}/${r}`, type: 'symlink', target: fs.readlinkSync(full) });
    else if (st.isDirectory()) {
      out.push({ path: `${dest}/${r}`, type: 'dir' });
      treeEntries(dir, dest, out, skip, r);
    } else if (st.isFile()) out.push({ path: `${dest}/${r}`, type: 'file', data: fs.readFileSync(full), executable: (st.mode & 0o111) !== 0 });
  }
}

interface PackageJson {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPackageJson = (dir: string): PackageJson => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;

/**
 * The installed directories of a package's production dependencies, transitively (Node's
 * resolution: the nearest node_modules up from the dependent). Optional ones that are not
 * installed (other platforms' koffi builds) are left out; a missing required one is an error.
 */
export function productionPackages(root: string): string[] {
  const found = new Set<string>();
  const visit = (dir: string) => {
    const pj = readPackageJson(dir);
    const deps = [...Object.keys(pj.dependencies ?? {}).map((n) => [n, false] as const), ...Object.keys(pj.optionalDependencies ?? {}).map((n) => [n, true] as const)];
    for (const [name, optional] of deps) {
      let at: string | undefined;
      for (let d = dir; ; d = path.dirname(d)) {
        const c = path.join(d, 'node_modules', name);
        if (fs.existsSync(path.join(c, 'package.json'))) {
          at = c;
          break;
        }
        if (d === root || path.dirname(d) === d) break;
      }
      if (!at) {
        if (optional) continue;
        throw new PackageError(`${name} (a dependency of ${pj.name ?? dir}) is not installed under ${root}: run npm install there first`);
      }
      if (found.has(at)) continue;
      found.add(at);
      visit(at);
    }
  };
  visit(root);
  return [...found].sort();
}

/** bee-ts itself under /opt/bee-ts: package.json, dist/ and the production node_modules. */
export function appEntries(pkgRoot: string): TarEntry[] {
  if (!fs.existsSync(path.join(pkgRoot, 'dist', 'cli', 'main.cjs'))) throw new PackageError(`${pkgRoot}/dist/cli/main.cjs is missing: build bee-ts first (npm run build)`);
  const dest = tarPath(APP_DIR);
  const out: TarEntry[] = [{ path: `${dest}/package.json`, type: 'file', data: fs.readFileSync(path.join(pkgRoot, 'package.json')) }];
  treeEntries(path.join(pkgRoot, 'dist'), `${dest}/dist`, out, (rel) => rel.endsWith('.map'));
  for (const dir of productionPackages(pkgRoot)) {
    const rel = path.relative(pkgRoot, dir).split(path.sep).join('/');
    out.push({ path: `${dest}/${rel}`, type: 'dir' });
    // A package's own nested node_modules are reached (and copied) through its dependencies.
    treeEntries(dir, `${dest}/${rel}`, out, (r) => r === 'node_modules' || r.startsWith('node_modules/'));
  }
  return out;
}

/** Native modules (`*.node`) among the app's files: their libraries go into the runtime too. */
export function nativeModules(pkgRoot: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (e.isFile() && e.name.endsWith('.node')) out.push(p);
    }
  };
  for (const dir of productionPackages(pkgRoot)) walk(dir);
  return out.sort();
}

const PASSWD = 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\n';

/**
 * A minimal runtime: the running node binary and the shared libraries it and the given native
 * modules need (mirrored with the host's symbolic links), /etc/passwd and /etc/group, and the
 * usual mount points. Returns the entries and where node is.
 */
export function runtimeEntries(nodeBinary: string, natives: string[]): { entries: TarEntry[]; node: string } {
  const out = new Map<string, TarEntry>();
  const node = mirrorHostPath(nodeBinary, out);
  const libs = new Set<string>();
  for (const l of sharedLibraries(node)) libs.add(l);
  for (const bin of natives) for (const l of sharedLibraries(bin, true)) libs.add(l);
  for (const l of [...libs].sort()) mirrorHostPath(l, out);
  const entries = [...out.values()];
  entries.push(
    { path: 'etc/passwd', type: 'file', data: Buffer.from(PASSWD) },
    { path: 'etc/group', type: 'file', data: Buffer.from(GROUP) },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'root', type: 'dir', mode: 0o700 },
  );
  for (const d of ['proc', 'sys', 'dev']) if (!out.has(d)) entries.push({ path: d, type: 'dir' });
  return { entries, node };
}

export interface PackOptions {
  /** The probe object's bytes. */
  program: Uint8Array;
  /** What the probe was given as (a file name or an image reference), for a label. */
  probeName: string;
  /** The bee image's manifest digest when the probe came from one. */
  probeImage?: string;
  /** bee-ts's package root (dist/, package.json, node_modules). */
  pkgRoot: string;
  version: string;
  /** A base image; without one the runtime layer is assembled from this host's node. */
  base?: BaseImage;
  /** The node binary for the assembled runtime (default: the running one). */
  nodeBinary?: string;
  metricsPort?: number;
  /** Extra arguments after `run /probe/probe.o` (the image's Cmd). */
  args?: string[];
  labels?: Record<string, string>;
  mtime?: number;
}

/** Build the image: same inputs, same digest. */
export function packContainer(o: PackOptions): ContainerImage {
  const mtime = o.mtime ?? 0;
  const created = new Date(mtime * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const port = o.metricsPort ?? DEFAULT_METRICS_PORT;
  const layers: Layer[] = [];
  let node = 'node';
  let env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  if (o.base) {
    layers.push(...o.base.layers);
    env = o.base.config.config.Env ?? env;
  } else {
    const rt = runtimeEntries(o.nodeBinary ?? process.execPath, nativeModules(o.pkgRoot));
    node = `/${rt.node.replace(/^\/+/, '')}`;
    layers.push(makeLayer(rt.entries, mtime, `bee-ts package: node ${path.basename(node)} and its shared libraries from the build host`));
  }
  layers.push(makeLayer(appEntries(o.pkgRoot), mtime, `bee-ts package: bee-ts ${o.version} with its production dependencies at ${APP_DIR}`));
  layers.push(makeLayer([{ path: PROBE_PATH, type: 'file', data: o.program }], mtime, `bee-ts package: probe ${o.probeName} at ${PROBE_PATH}`));
  const setEnv = (k: string, v: string) => (env = [...env.filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`]);
  setEnv('NODE_ENV', 'production');
  setEnv('HOME', '/root');
  const labels: Record<string, string> = {
    ...o.base?.config.config.Labels,
    'org.opencontainers.image.title': `bee-ts probe ${o.probeName}`,
    'org.opencontainers.image.version': o.version,
    [LABEL_PROBE_DIGEST]: sha256(o.program),
    [LABEL_PROBE_NAME]: o.probeName,
    [LABEL_METRICS_PORT]: String(port),
    ...(o.probeImage ? { [LABEL_PROBE_IMAGE]: o.probeImage } : {}),
    ...(o.base ? { 'org.opencontainers.image.base.name': o.base.ref, 'org.opencontainers.image.base.digest': o.base.digest } : {}),
    ...o.labels,
  };
  const history = [...(o.base?.config.history ?? []), ...layers.slice(o.base?.layers.length ?? 0).map((l) => ({ created, created_by: l.createdBy }))];
  const config: ImageConfig = {
    architecture: o.base?.config.architecture ?? ociArch(),
    os: 'linux',
    created,
    config: {
      // Arguments after the image name (podman run IMAGE --poll-interval 2s) add to these.
      Entrypoint: [node, `${APP_DIR}/dist/cli/main.cjs`, 'run', PROBE_PATH, ...(port === DEFAULT_METRICS_PORT ? [] : ['--prom-port', String(port)])],
      ...(o.args?.length ? { Cmd: o.args } : {}),
      Env: env,
      WorkingDir: '/',
      User: '0',
      ExposedPorts: { [`${port}/tcp`]: {} },
      Labels: Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      StopSignal: 'SIGTERM',
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: configBytes.length },
    layers: layers.map((l) => l.descriptor),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return { config, configBytes, configDigest, layers, manifestBytes, manifestDigest: sha256(manifestBytes) };
}

/** Every blob of the image by digest (config and layers; the manifest is separate). */
export function imageBlobs(img: ContainerImage): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>([[img.configDigest, img.configBytes]]);
  for (const l of img.layers) m.set(l.descriptor.digest, l.blob);
  return m;
}

const hex = (digest: string) => digest.slice('sha256:'.length);

/** An OCI image layout as one tar: oci-layout, index.json naming the image `ref`, blobs/sha256/*. */
export function ociArchive(img: ContainerImage, ref: string, mtime = 0): Buffer {
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: img.manifestDigest, size: img.manifestBytes.length, annotations: { 'org.opencontainers.image.ref.name': ref } }] };
  const entries: TarEntry[] = [
    { path: 'oci-layout', type: 'file', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { path: 'index.json', type: 'file', data: Buffer.from(JSON.stringify(index)) },
    { path: `blobs/sha256/${hex(img.manifestDigest)}`, type: 'file', data: img.manifestBytes },
  ];
  for (const [d, b] of imageBlobs(img)) entries.push({ path: `blobs/sha256/${hex(d)}`, type: 'file', data: b });
  return writeTar(entries, mtime);
}

/** A layer's uncompressed tar, checked against its diff_id. */
function layerTar(l: Layer): Uint8Array {
  const m = l.descriptor.mediaType;
  const tar = m.endsWith('gzip') ? zlib.gunzipSync(l.blob) : m === OCI_LAYER || m === DOCKER_LAYER ? l.blob : undefined;
  if (!tar) throw new PackageError(`layer ${l.descriptor.digest} has media type ${m}: a docker archive needs tar or gzip layers (write an OCI archive instead)`);
  if (sha256(tar) !== l.diffId) throw new PackageError(`layer ${l.descriptor.digest} does not unpack to its diff_id ${l.diffId}`);
  return tar;
}

/** `docker save`'s format: manifest.json, the config as <hex>.json and each layer's tar. */
export function dockerArchive(img: ContainerImage, ref: string, mtime = 0): Buffer {
  const layerFiles = img.layers.map((l) => `${hex(l.diffId)}/layer.tar`);
  const manifest = [{ Config: `${hex(img.configDigest)}.json`, RepoTags: [ref], Layers: layerFiles }];
  const entries: TarEntry[] = [
    { path: 'manifest.json', type: 'file', data: Buffer.from(JSON.stringify(manifest)) },
    { path: `${hex(img.configDigest)}.json`, type: 'file', data: img.configBytes },
  ];
  const seen = new Set<string>();
  img.layers.forEach((l, i) => {
    if (seen.has(layerFiles[i]!)) return;
    seen.add(layerFiles[i]!);
    entries.push({ path: layerFiles[i]!, type: 'file', data: layerTar(l) });
  });
  return writeTar(entries, mtime);
}

interface IndexJson {
  manifests?: { mediaType?: string; digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

function parseJson<T>(ref: string, what: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
  } catch (e) {
    throw new ImageError(ref, `${what} is not JSON (${(e as Error).message})`);
  }
}

/**
 * A base image from a registry: the manifest this reference names (from an index, the one for
 * linux/<arch>), its config and every layer (gzip or plain tar), each checked against its digest.
 */
export async function pullBase(client: RegistryClient, arch: string = ociArch()): Promise<BaseImage> {
  const ref = client.ref.name;
  let m = await client.fetchManifest(BASE_ACCEPT);
  let j = parseJson<{ mediaType?: string; manifests?: unknown; config?: Descriptor; layers?: Descriptor[] }>(ref, 'the manifest', m.bytes);
  if (Array.isArray(j.manifests)) {
    const list = (j as IndexJson).manifests!;
    const pick = list.find((d) => d.platform?.os === 'linux' && d.platform.architecture === arch);
    if (!pick) throw new ImageError(ref, `no linux/${arch} image in this index (it has ${list.map((d) => `${d.platform?.os}/${d.platform?.architecture}`).join(', ') || 'none'})`);
    m = await client.fetchManifest(BASE_ACCEPT, pick.digest);
    j = parseJson(ref, 'the manifest', m.bytes);
  }
  if (!j.config || !Array.isArray(j.layers)) throw new ImageError(ref, 'not an image manifest (no config and layers)');
  const configBytes = await client.fetchBlob(j.config.digest, j.config.size, MAX_BASE_BLOB);
  const config = parseJson<ImageConfig>(ref, 'the image config', configBytes);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== j.layers.length) throw new ImageError(ref, `the config lists ${diffIds.length} layers, the manifest ${j.layers.length}`);
  if (config.os && config.os !== 'linux') throw new ImageError(ref, `a ${config.os} image, not linux`);
  if (config.architecture && config.architecture !== arch) throw new ImageError(ref, `a ${config.architecture} image; this host runs ${arch}`);
  const layers: Layer[] = [];
  for (const [i, d] of j.layers.entries()) {
    if (d.size > MAX_BASE_BLOB) throw new ImageError(ref, `layer ${d.digest} is ${d.size} bytes, more than the ${MAX_BASE_BLOB} bee-ts package holds`);
    const mediaType = d.mediaType === DOCKER_LAYER_GZIP ? OCI_LAYER_GZIP : d.mediaType === DOCKER_LAYER ? OCI_LAYER : d.mediaType;
    if (mediaType !== OCI_LAYER_GZIP && mediaType !== OCI_LAYER) throw new ImageError(ref, `layer ${d.digest} has media type ${d.mediaType} (bee-ts package takes tar and gzip layers)`);
    const blob = await client.fetchBlob(d.digest, d.size, MAX_BASE_BLOB);
    layers.push({ descriptor: { mediaType, digest: d.digest, size: blob.length }, diffId: diffIds[i]!, blob, createdBy: `base ${ref}` });
  }
  return { ref, digest: m.digest, config, layers };
}
