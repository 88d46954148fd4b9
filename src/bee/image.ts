// bee's eBPF OCI image: a standard OCI image manifest whose config blob is `{}` (media type
// application/ebpf.oci.image.config.v1+json, titled config.json) and whose one layer is the raw
// ELF (application/ebpf.oci.image.program.v1+binary, titled program.o). Readers find blobs by
// title. Authors and description are manifest annotations; the platform lives only on the
// manifest's descriptor in the local store's index.json. Same format as bee, so each tool reads
// the other's images. Pure data here: no files, no network.
import { BeeTsError } from '../errors.js';
import crypto from 'node:crypto';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/ebpf.oci.image.config.v1+json';
export const PROGRAM_MEDIA_TYPE = 'application/ebpf.oci.image.program.v1+binary';
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_AUTHORS = 'org.opencontainers.image.authors';
export const ANNOTATION_DESCRIPTION = 'org.opencontainers.image.description';
export const PROGRAM_TITLE = 'program.o';
export const CONFIG_TITLE = 'config.json';

export class ImageError extends BeeTsError {
  constructor(
    readonly ref: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('IMAGE', `${ref}: ${message}`, options);
  }
}

export interface Platform {
  os: string;
  'os.version'?: string;
  architecture: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** A parsed image reference: `[host[:port]/]path[:tag][@sha256:…]`. */
export interface ImageRef {
  /** Registry host as written (docker.io when none was). */
  host: string;
  /** Repository path (`library/x` for a bare docker.io name). */
  repository: string;
  tag?: string;
  digest?: string;
  /** The reference as the store names it (what the user typed, with `:latest` when no tag or digest). */
  name: string;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Parse an image reference with the Docker/OCI grammar. A first component with a dot, a colon or
 * `localhost` is a registry host; otherwise the host is docker.io.
 */
export function parseRef(ref: string): ImageRef {
  let rest = ref.trim();
  if (!rest) throw new ImageError(ref, 'empty image reference');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ImageError(ref, `bad digest '${digest}' (want sha256:<64 hex digits>)`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageError(ref, `bad tag '${tag}'`);
  }
  const parts = rest.split('/');
  let host = 'docker.io';
  if (parts.length > 1 && (parts[0]!.includes('.') || parts[0]!.includes(':') || parts[0] === 'localhost')) host = parts.shift()!;
  if (host === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts)
    if (!PATH_COMPONENT.test(p)) throw new ImageError(ref, `bad repository name component '${p}' (lowercase letters, digits and . _ - separators)`);
  const repository = parts.join('/');
  const name = tag || digest ? ref.trim() : `${ref.trim()}:latest`;
  if (!tag && !digest) tag = 'latest';
  return { host, repository, tag, digest, name };
}

export function sha256(data: Uint8Array): string {
  return `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
}

export interface EbpfPackage {
  program: Uint8Array;
  description?: string;
  authors?: string;
  platform?: Platform;
}

/** The blobs and manifest of an eBPF image: content-addressed, ready for a store or a registry. */
export interface PackedImage {
  manifest: Manifest;
  manifestBytes: Uint8Array;
  manifestDigest: string;
  blobs: Map<string, Uint8Array>;
}

export function packImage(p: EbpfPackage): PackedImage {
  const config = new TextEncoder().encode('{}');
  const configDesc: Descriptor = { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(config), size: config.length, annotations: { [ANNOTATION_TITLE]: CONFIG_TITLE } };
  const layer: Descriptor = { mediaType: PROGRAM_MEDIA_TYPE, digest: sha256(p.program), size: p.program.length, annotations: { [ANNOTATION_TITLE]: PROGRAM_TITLE } };
  const annotations: Record<string, string> = {};
  if (p.authors) annotations[ANNOTATION_AUTHORS] = p.authors;
  if (p.description) annotations[ANNOTATION_DESCRIPTION] = p.description;
  const manifest: Manifest = { schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPE, config: configDesc, layers: [layer] };
  if (Object.keys(annotations).length) manifest.annotations = annotations;
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  return {
    manifest,
    manifestBytes,
    manifestDigest: sha256(manifestBytes),
    blobs: new Map([
      [configDesc.digest, config],
      [layer.digest, p.program],
    ]),
  };
}

const isStringMap = (a: unknown) => a === undefined || (typeof a === 'object' && a !== null && !Array.isArray(a) && Object.values(a).every((v) => typeof v === 'string'));

/** Why a descriptor (in a manifest or an index) is not usable: undefined when it is. */
export function descriptorProblem(d: unknown): string | undefined {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'is not an object';
  const x = d as Record<string, unknown>;
  if (typeof x.digest !== 'string' || !DIGEST.test(x.digest)) return `has a bad digest ${JSON.stringify(x.digest)}`;
  if (typeof x.mediaType !== 'string') return 'has no mediaType string';
  if (typeof x.size !== 'number' || !Number.isSafeInteger(x.size) || x.size < 0) return `has a bad size ${JSON.stringify(x.size)}`;
  if (!isStringMap(x.annotations)) return 'has annotations that are not a string map';
  if (!isStringMap(x.platform)) return 'has a platform that is not a string map';
  return undefined;
}

/** Parse and check a manifest: JSON, schema version 2, descriptors with sha256 digests. */
export function parseManifest(ref: string, bytes: Uint8Array): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  } catch (e) {
    throw new ImageError(ref, `manifest is not JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof m !== 'object' || m === null || m.schemaVersion !== 2 || typeof m.config !== 'object' || m.config === null || !Array.isArray(m.layers))
    throw new ImageError(ref, 'not an OCI image manifest (schemaVersion 2 with config and layers)');
  if (!isStringMap(m.annotations)) throw new ImageError(ref, 'manifest annotations are not a string map');
  for (const d of [m.config, ...m.layers]) {
    const why = descriptorProblem(d);
    if (why) throw new ImageError(ref, `manifest has a bad descriptor (it ${why}): ${JSON.stringify(d)?.slice(0, 200)}`);
  }
  return m;
}

/** The blob titled `program.o` (bee's rule), else the one layer with the program media type. */
export function programLayer(ref: string, m: Manifest): Descriptor {
  const d = m.layers.find((l) => l.annotations?.[ANNOTATION_TITLE] === PROGRAM_TITLE) ?? m.layers.find((l) => l.mediaType === PROGRAM_MEDIA_TYPE);
  if (!d) throw new ImageError(ref, 'could not find ebpf bytes in manifest (no layer titled program.o): is this a bee image?');
  return d;
}

/** This host's platform as bee records it: Linux, the kernel release, `uname -m`. */
export function hostPlatform(release: string, machine: string): Platform {
  return { os: 'Linux', 'os.version': release, architecture: machine };
}
