// A small OCI distribution-spec client (push and pull of bee's eBPF images) on Node's fetch.
// Auth: anonymous first; on 401 it answers the challenge — Basic with the user's credentials, or
// Bearer: fetch a token from the challenge's realm (with Basic credentials when it has them) for
// the repository scope, then retry. Credentials come from -u/-p, else the first config file that
// has the host (<config-dir>/config.json, then Docker's ~/.docker/config.json).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CONFIG_MEDIA_TYPE,
  type Descriptor,
  type ImageRef,
  ImageError,
  MANIFEST_MEDIA_TYPE,
  PROGRAM_MEDIA_TYPE,
  parseManifest,
  parseRef,
  sha256,
} from './image.js';
import type { ImageStore } from './store.js';

export interface RegistryOptions {
  username?: string;
  password?: string;
  /** Talk HTTP instead of HTTPS (a local test registry). */
  plainHttp?: boolean;
  /** Accept any TLS certificate. */
  insecure?: boolean;
  /** Auth config files, first match wins. */
  configFiles?: string[];
  /** For tests: the fetch to use. */
  fetch?: typeof fetch;
}

export const DEFAULT_CONFIG_DIR = path.join(os.homedir(), '.bumblebee');

export function defaultConfigFiles(configDir = DEFAULT_CONFIG_DIR): string[] {
  return [path.join(configDir, 'config.json'), path.join(os.homedir(), '.docker', 'config.json')];
}

interface AuthConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

/** Keys a Docker config file may use for a host. */
function authKeys(host: string): string[] {
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  if (host === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

export function findCredentials(host: string, files: string[]): { username: string; password: string } | undefined {
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    let cfg: AuthConfig;
    try {
      cfg = JSON.parse(fs.readFileSync(f, 'utf8')) as AuthConfig;
    } catch {
      throw new Error(`${f}: not valid JSON (an auth config file)`);
    }
    for (const k of authKeys(host)) {
      const a = cfg.auths?.[k];
      if (!a) continue;
      if (a.auth) {
        const s = Buffer.from(a.auth, 'base64').toString('utf8');
        const i = s.indexOf(':');
        if (i > 0) return { username: s.slice(0, i), password: s.slice(i + 1) };
      }
      if (a.username && a.password) return { username: a.username, password: a.password };
      if (a.identitytoken) return { username: '<token>', password: a.identitytoken };
    }
  }
  return undefined;
}

/** Save credentials in a Docker-style config file (`login`). */
export function saveCredentials(file: string, host: string, username: string, password: string): void {
  let cfg: AuthConfig = {};
  if (fs.existsSync(file)) cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as AuthConfig;
  cfg.auths ??= {};
  cfg.auths[host] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
}

/** `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` → scheme and parameters. */
export function parseChallenge(h: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(h);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1]!.toLowerCase(), params };
}

export const MANIFEST_ACCEPT = [MANIFEST_MEDIA_TYPE, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

export class RegistryClient {
  private readonly fetch: typeof fetch;
  private authHeader?: string;
  readonly base: string;

  constructor(
    readonly ref: ImageRef,
    private readonly opts: RegistryOptions = {},
  ) {
    this.fetch = opts.fetch ?? fetch;
    const host = ref.host === 'docker.io' ? 'registry-1.docker.io' : ref.host;
    this.base = `${opts.plainHttp ? 'http' : 'https'}://${host}`;
    if (opts.insecure) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  }

  private credentials(): { username: string; password: string } | undefined {
    if (this.opts.username !== undefined) return { username: this.opts.username, password: this.opts.password ?? '' };
    return findCredentials(this.ref.host, this.opts.configFiles ?? defaultConfigFiles());
  }

  private async authorize(res: Response, scope: string): Promise<boolean> {
    const { scheme, params } = parseChallenge(res.headers.get('www-authenticate') ?? '');
    const cred = this.credentials();
    const basic = cred ? `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (!basic || this.authHeader === basic) return false;
      this.authHeader = basic;
      return true;
    }
    if (scheme !== 'bearer' || !params.realm) return false;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    // Ours first: a push asks for pull,push up front, even when the challenge (to a HEAD) said pull.
    const sc = scope || params.scope;
    if (sc) url.searchParams.set('scope', sc);
    const r = await this.fetch(url, { headers: basic ? { authorization: basic } : {} });
    if (!r.ok) throw new ImageError(this.ref.name, `token request to ${url.origin} failed: HTTP ${r.status}${cred ? ' (check the username and password)' : ' (log in first: bee-ts login ' + this.ref.host + ')'}`);
    const j = (await r.json()) as { token?: string; access_token?: string };
    const token = j.token ?? j.access_token;
    if (!token) throw new ImageError(this.ref.name, `token response from ${url.origin} has no token`);
    const header = `Bearer ${token}`;
    if (this.authHeader === header) return false;
    this.authHeader = header;
    return true;
  }

  /** One request, answering an auth challenge once. */
  private async request(method: string, urlPath: string, init: { headers?: Record<string, string>; body?: Uint8Array; push?: boolean; scope?: string } = {}): Promise<Response> {
    const url = /^https?:/.test(urlPath) ? urlPath : `${this.base}${urlPath}`;
    const scope = init.scope ?? `repository:${this.ref.repository}:${init.push ? 'pull,push' : 'pull'}`;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...init.headers };
      if (this.authHeader) headers.authorization = this.authHeader;
      let res: Response;
      try {
        res = await this.fetch(url, { method, headers, body: init.body, redirect: 'follow' });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (e as Error).message;
        const hint = why === 'ECONNREFUSED' ? 'is the registry running?' : /EPROTO|wrong version number|SSL/i.test(why) ? 'a plain-HTTP registry? use --plain-http' : /CERT|self.signed/i.test(why) ? 'use --insecure to accept its certificate' : 'check the host name and network';
        throw new ImageError(this.ref.name, `cannot reach ${this.base}: ${why} (${hint})`);
      }
      if (res.status === 401 && attempt === 0 && (await this.authorize(res, scope))) continue;
      return res;
    }
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const j = (await res.json()) as { errors?: { code?: string; message?: string }[] };
      detail = j.errors?.map((e) => `${e.code}: ${e.message}`).join('; ') ?? '';
    } catch {
      /* not JSON */
    }
    const hint = res.status === 401 || res.status === 403 ? ` (log in: bee-ts login ${this.ref.host}, or pass -u/-p)` : res.status === 404 ? ' (no such repository or tag)' : '';
    throw new ImageError(this.ref.name, `${what}: HTTP ${res.status}${detail ? ` ${detail}` : ''}${hint}`);
  }

  private get reference(): string {
    return this.ref.digest ?? this.ref.tag ?? 'latest';
  }

  /**
   * The manifest (or index) this reference names, or `reference` (a digest) in the same
   * repository, checked against the digest asked for and the one the registry claims.
   */
  async fetchManifest(accept: string = MANIFEST_ACCEPT, reference: string = this.reference): Promise<{ bytes: Uint8Array; digest: string; mediaType?: string }> {
    const res = await this.request('GET', `/v2/${this.ref.repository}/manifests/${reference}`, { headers: { accept } });
    if (!res.ok) await this.fail(res, 'cannot get the manifest');
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = sha256(bytes);
    const wanted = reference.startsWith('sha256:') ? reference : undefined;
    const claimed = res.headers.get('docker-content-digest');
    if ((wanted && digest !== wanted) || (claimed && claimed.startsWith('sha256:') && claimed !== digest))
      throw new ImageError(this.ref.name, `manifest digest ${digest} does not match ${wanted ?? claimed}`);
    return { bytes, digest, mediaType: res.headers.get('content-type')?.split(';')[0]?.trim() || undefined };
  }

  /** One blob of this repository, checked against its digest. */
  async fetchBlob(digest: string): Promise<Uint8Array> {
    const r = await this.request('GET', `/v2/${this.ref.repository}/blobs/${digest}`);
    if (!r.ok) await this.fail(r, `cannot get blob ${digest}`);
    const blob = new Uint8Array(await r.arrayBuffer());
    if (sha256(blob) !== digest) throw new ImageError(this.ref.name, `blob ${digest} arrived with a different digest (corrupted in transit?)`);
    return blob;
  }

  /** Pull the image into the store under its reference; returns the manifest's descriptor. */
  async pull(store: ImageStore): Promise<Descriptor> {
    const { bytes, digest } = await this.fetchManifest();
    const manifest = parseManifest(this.ref.name, bytes);
    // Only the blobs a bee image has (the config and the program), like bee's allowed media types.
    const wanted = [manifest.config, ...manifest.layers].filter((d) => d.mediaType === CONFIG_MEDIA_TYPE || d.mediaType === PROGRAM_MEDIA_TYPE);
    if (!wanted.some((d) => d.mediaType === PROGRAM_MEDIA_TYPE))
      throw new ImageError(this.ref.name, `not a bee eBPF image: no ${PROGRAM_MEDIA_TYPE} layer (config is ${manifest.config.mediaType})`);
    for (const d of wanted) if (!store.hasBlob(d.digest)) store.writeBlob(d.digest, await this.fetchBlob(d.digest));
    store.writeBlob(digest, bytes);
    const desc: Descriptor = { mediaType: manifest.mediaType ?? MANIFEST_MEDIA_TYPE, digest, size: bytes.length };
    store.tagManifest(this.ref.name, desc);
    return desc;
  }

  /** Push the image the store names by this reference. Blobs the registry has are skipped. */
  async push(store: ImageStore): Promise<{ digest: string; uploaded: number }> {
    const img = store.export(this.ref.name);
    return this.pushManifest(img.blobs, img.manifestBytes, img.manifest.mediaType ?? MANIFEST_MEDIA_TYPE);
  }

  /** Upload the blobs the registry lacks, then put the manifest under this reference. */
  async pushManifest(blobs: Map<string, Uint8Array>, manifestBytes: Uint8Array, mediaType: string): Promise<{ digest: string; uploaded: number }> {
    let uploaded = 0;
    const repo = this.ref.repository;
    for (const [digest, data] of blobs) {
      const head = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { push: true });
      if (head.ok) continue;
      const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { push: true });
      if (start.status !== 202) await this.fail(start, 'cannot start a blob upload');
      const loc = start.headers.get('location');
      if (!loc) throw new ImageError(this.ref.name, 'registry started an upload without a Location');
      const url = new URL(loc, this.base);
      url.searchParams.set('digest', digest);
      const put = await this.request('PUT', url.toString(), { headers: { 'content-type': 'application/octet-stream' }, body: data, push: true });
      if (put.status !== 201) await this.fail(put, `cannot upload blob ${digest}`);
      uploaded++;
    }
    const res = await this.request('PUT', `/v2/${repo}/manifests/${this.reference}`, { headers: { 'content-type': mediaType }, body: manifestBytes, push: true });
    if (res.status !== 201) await this.fail(res, 'cannot put the manifest');
    return { digest: sha256(manifestBytes), uploaded };
  }

  /** Check credentials against the registry's /v2/ endpoint (`login`). */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/', { scope: '' });
    if (!res.ok) await this.fail(res, 'login failed');
  }
}

export function registryFor(ref: string, opts: RegistryOptions = {}): RegistryClient {
  return new RegistryClient(parseRef(ref), opts);
}
