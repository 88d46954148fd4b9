// A small OCI distribution-spec client (push and pull of bee's eBPF images) on undici's fetch.
// Auth: anonymous first; on 401 it answers the challenge — Basic with the user's credentials, or
// Bearer: fetch a token from the challenge's realm for the repository scope, then retry.
// Credentials come from -u/-p, else the first config file that has the host
// (<config-dir>/config.json, then Docker's ~/.docker/config.json).
//
// Hostile registries are expected:
// - every body is read as a stream under a byte cap: a manifest 4 MiB (containerd's
//   MaxManifestSize), a blob exactly its descriptor's size (the read stops at the first byte
//   beyond it; a shorter blob is refused too), a token answer 1 MiB, an error body 64 KiB; digests
//   are computed while reading;
// - timeouts: connect, idle (no headers, or no body bytes, for that long) and a total per request;
// - Basic credentials go only to the registry's own host. A Bearer realm gets them only when it is
//   on the registry's host name over https, or over http when the registry itself was named
//   plain-http by --plain-http; Docker Hub's token service (auth.docker.io) is the one built-in
//   other host. Otherwise the token is asked for anonymously. (docker, containerd and
//   go-containerregistry send the credentials to whatever realm the registry names.) An
//   Authorization header never follows a request to another origin (upload Locations, redirects);
// - --insecure is a per-client TLS setting (an undici Agent with rejectUnauthorized: false), never
//   NODE_TLS_REJECT_UNAUTHORIZED for the whole process.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, type Dispatcher, fetch as undiciFetch, type Response } from 'undici';
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
import { readInputFile, writeFileAtomic } from '../syscall/files.js';

/** containerd's limit for a manifest (remotes/docker: MaxManifestSize = 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** A bee image's blobs are an ELF object and `{}`: a descriptor claiming more is refused. */
export const MAX_BLOB_BYTES = 512 << 20;
const MAX_TOKEN_BYTES = 1 << 20;
const MAX_ERROR_BYTES = 64 << 10;

export interface RegistryTimeouts {
  /** TCP + TLS connect. */
  connectMs: number;
  /** No response headers, or no body bytes, for this long. */
  idleMs: number;
  /** One request, body included. */
  totalMs: number;
}

export const DEFAULT_TIMEOUTS: RegistryTimeouts = { connectMs: 30_000, idleMs: 30_000, totalMs: 300_000 };

export interface RegistryOptions {
  username?: string;
  password?: string;
  /** Talk HTTP instead of HTTPS (a local test registry). */
  plainHttp?: boolean;
  /** Accept any TLS certificate (this client's connections only). */
  insecure?: boolean;
  /** Auth config files, first match wins. */
  configFiles?: string[];
  timeouts?: Partial<RegistryTimeouts>;
}

export const DEFAULT_CONFIG_DIR = path.join(os.homedir(), '.bumblebee');

export function defaultConfigFiles(configDir = DEFAULT_CONFIG_DIR): string[] {
  return [path.join(configDir, 'config.json'), path.join(os.homedir(), '.docker', 'config.json')];
}

interface AuthConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
}

/** The string fields of an auths entry (docker/cli's types.AuthConfig). */
const AUTH_FIELDS = ['username', 'password', 'auth', 'email', 'serveraddress', 'identitytoken', 'registrytoken'];

/** Keys a Docker config file may use for a host. */
function authKeys(host: string): string[] {
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
  if (host === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

export function findCredentials(host: string, files: string[]): { username: string; password: string } | undefined {
  for (const f of files) {
    if (!fs.existsSync(f)) continue;
    const cfg = readConfig(f);
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

function readConfig(f: string): AuthConfig {
  let cfg: unknown;
  try {
    cfg = JSON.parse(readInputFile(f, 'auth config file', 16 << 20).toString('utf8'));
  } catch (e) {
    throw new ImageError(f, e instanceof SyntaxError ? 'not valid JSON (an auth config file)' : (e as Error).message);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new ImageError(f, 'not a JSON object (an auth config file)');
  const auths = (cfg as AuthConfig).auths;
  if (auths !== undefined && (typeof auths !== 'object' || auths === null || Array.isArray(auths))) throw new ImageError(f, '"auths" is not an object');
  for (const [k, a] of Object.entries(auths ?? {})) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new ImageError(f, `auths[${JSON.stringify(k)}] is not an object`);
    // As Docker's own reader (Go's encoding/json into its AuthConfig): a known field is a string or
    // null (older Docker wrote "email": null), and keys it does not know are ignored.
    const entry = a as Record<string, unknown>;
    for (const field of AUTH_FIELDS) {
      const v = entry[field];
      if (v === null) delete entry[field];
      else if (v !== undefined && typeof v !== 'string') throw new ImageError(f, `auths[${JSON.stringify(k)}].${field} is not a string`);
    }
  }
  return cfg as AuthConfig;
}

/**
 * Save credentials in a Docker-style config file (`login`): written 0600 through a new file and
 * a rename, so an existing world-readable config ends up 0600 too, and a planted link is replaced.
 */
export function saveCredentials(file: string, host: string, username: string, password: string): void {
  const cfg: AuthConfig = fs.existsSync(file) ? readConfig(file) : {};
  cfg.auths ??= {};
  cfg.auths[host] = { auth: Buffer.from(`${username}:${password}`).toString('base64') };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, JSON.stringify(cfg, null, 2) + '\n', 0o600);
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

/** Why a request failed, from undici's error codes: a sentence and a hint. */
function networkProblem(e: unknown, t: RegistryTimeouts): { why: string; hint: string } {
  const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string; name?: string } };
  const code = err.cause?.code ?? err.code;
  if (err.name === 'TimeoutError' || err.cause?.name === 'TimeoutError') return { why: `no complete answer within ${t.totalMs / 1000} s`, hint: 'the registry is too slow or stalls' };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { why: `connect timed out after ${t.connectMs / 1000} s`, hint: 'check the host name and network' };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { why: `no response within ${t.idleMs / 1000} s`, hint: 'the registry accepted the connection and then hung' };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { why: `no data for ${t.idleMs / 1000} s in the middle of a response`, hint: 'the registry stalled' };
  const why = code ?? err.cause?.message ?? err.message ?? String(e);
  const hint =
    why === 'ECONNREFUSED'
      ? 'is the registry running?'
      : /EPROTO|wrong version number|SSL/i.test(why)
        ? 'a plain-HTTP registry? use --plain-http'
        : /CERT|self.signed|UNABLE_TO_VERIFY/i.test(why)
          ? 'use --insecure to accept its certificate'
          : 'check the host name and network';
  return { why, hint };
}

export class RegistryClient {
  private readonly dispatcher: Dispatcher;
  private readonly timeouts: RegistryTimeouts;
  private authHeader?: string;
  readonly base: string;

  constructor(
    readonly ref: ImageRef,
    private readonly opts: RegistryOptions = {},
  ) {
    const host = ref.host === 'docker.io' ? 'registry-1.docker.io' : ref.host;
    this.base = `${opts.plainHttp ? 'http' : 'https'}://${host}`;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.dispatcher = new Agent({
      connect: { timeout: this.timeouts.connectMs, rejectUnauthorized: !opts.insecure },
      headersTimeout: this.timeouts.idleMs,
      bodyTimeout: this.timeouts.idleMs,
    });
  }

  private credentials(): { username: string; password: string } | undefined {
    if (this.opts.username !== undefined) return { username: this.opts.username, password: this.opts.password ?? '' };
    return findCredentials(this.ref.host, this.opts.configFiles ?? defaultConfigFiles());
  }

  /**
   * May the user's Basic credentials go to this Bearer realm? Only to the registry's own host
   * name, over https (or over http when the registry itself is --plain-http), or to Docker Hub's
   * token service for docker.io.
   */
  realmTrusted(realm: URL): boolean {
    const reg = new URL(this.base);
    if (this.ref.host === 'docker.io' && realm.protocol === 'https:' && realm.host === 'auth.docker.io') return true;
    if (realm.hostname !== reg.hostname) return false;
    return realm.protocol === 'https:' || (realm.protocol === 'http:' && this.opts.plainHttp === true);
  }

  private async authorize(res: Response, scope: string): Promise<boolean> {
    const { scheme, params } = parseChallenge(res.headers.get('www-authenticate') ?? '');
    await res.body?.cancel().catch(() => {});
    const cred = this.credentials();
    const basic = cred ? `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` : undefined;
    if (scheme === 'basic') {
      if (!basic || this.authHeader === basic) return false;
      this.authHeader = basic;
      return true;
    }
    if (scheme !== 'bearer' || !params.realm) return false;
    let url: URL;
    try {
      url = new URL(params.realm);
    } catch {
      throw new ImageError(this.ref.name, `the registry names a token realm that is not a URL: ${JSON.stringify(params.realm.slice(0, 200))}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ImageError(this.ref.name, `the registry names a token realm that is not http(s): ${url.protocol}`);
    if (params.service) url.searchParams.set('service', params.service);
    // Ours first: a push asks for pull,push up front, even when the challenge (to a HEAD) said pull.
    const sc = scope || params.scope;
    if (sc) url.searchParams.set('scope', sc);
    const trusted = this.realmTrusted(url);
    const withheld = basic && !trusted;
    const r = await this.send(url.toString(), { method: 'GET', headers: basic && trusted ? { authorization: basic } : {} });
    if (!r.ok) {
      await r.body?.cancel().catch(() => {});
      const why = withheld
        ? ` (your credentials for ${this.ref.host} were not sent to ${url.origin}: a token realm gets them only on the registry's own host over https)`
        : cred
          ? ' (check the username and password)'
          : ' (log in first: bee-ts login ' + this.ref.host + ')';
      throw new ImageError(this.ref.name, `token request to ${url.origin} failed: HTTP ${r.status}${why}`);
    }
    let j: { token?: unknown; access_token?: unknown };
    try {
      j = JSON.parse(new TextDecoder().decode(await this.readBody(r, MAX_TOKEN_BYTES, `the token answer from ${url.origin}`))) as typeof j;
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw new ImageError(this.ref.name, `token response from ${url.origin} is not JSON`);
    }
    const token = j?.token ?? j?.access_token;
    if (typeof token !== 'string' || !token) throw new ImageError(this.ref.name, `token response from ${url.origin} has no token`);
    const header = `Bearer ${token}`;
    if (this.authHeader === header) return false;
    this.authHeader = header;
    return true;
  }

  /** One HTTP exchange under this client's TLS settings and timeouts; network failures are ImageErrors. */
  private async send(url: string, init: { method: string; headers: Record<string, string>; body?: Uint8Array }): Promise<Response> {
    try {
      return await undiciFetch(url, { ...init, redirect: 'follow', dispatcher: this.dispatcher, signal: AbortSignal.timeout(this.timeouts.totalMs) });
    } catch (e) {
      const { why, hint } = networkProblem(e, this.timeouts);
      throw new ImageError(this.ref.name, `cannot reach ${new URL(url).origin}: ${why} (${hint})`);
    }
  }

  /**
   * A response body, read as a stream and refused as soon as it passes `max` bytes (before
   * reading when Content-Length already says so). With `expect`, the digest is computed on the
   * way and the size must be exactly the descriptor's.
   */
  private async readBody(res: Response, max: number, what: string, expect?: { digest: string; size: number }): Promise<Uint8Array> {
    const limit = expect ? `its descriptor's ${max} bytes` : `the ${max}-byte limit`;
    const tooBig = (n: string) => new ImageError(this.ref.name, `${what} is ${n} bytes, more than ${limit}; refused`);
    const cl = res.headers.get('content-length');
    if (cl !== null && /^\d+$/.test(cl) && Number(cl) > max) {
      await res.body?.cancel().catch(() => {});
      throw tooBig(cl);
    }
    const hash = expect ? crypto.createHash('sha256') : undefined;
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (res.body) {
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.length;
          if (total > max) {
            await reader.cancel().catch(() => {});
            throw new ImageError(this.ref.name, `${what} kept coming past ${limit}; refused (stopped reading at ${total} bytes)`);
          }
          hash?.update(value);
          chunks.push(value);
        }
      } catch (e) {
        if (e instanceof ImageError) throw e;
        const { why, hint } = networkProblem(e, this.timeouts);
        throw new ImageError(this.ref.name, `reading ${what}: ${why} (${hint})`);
      }
    }
    if (expect) {
      if (total !== expect.size) throw new ImageError(this.ref.name, `${what} is ${total} bytes, its descriptor says ${expect.size}`);
      const digest = `sha256:${hash!.digest('hex')}`;
      if (digest !== expect.digest) throw new ImageError(this.ref.name, `${what} arrived with digest ${digest} (corrupted in transit?)`);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** One request, answering an auth challenge once. */
  private async request(method: string, urlPath: string, init: { headers?: Record<string, string>; body?: Uint8Array; push?: boolean; scope?: string } = {}): Promise<Response> {
    const url = /^https?:/.test(urlPath) ? urlPath : `${this.base}${urlPath}`;
    const scope = init.scope ?? `repository:${this.ref.repository}:${init.push ? 'pull,push' : 'pull'}`;
    // Our Authorization header is for the registry's origin only (an upload Location may name another).
    const sameOrigin = new URL(url).origin === new URL(this.base).origin;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...init.headers };
      if (this.authHeader && sameOrigin) headers.authorization = this.authHeader;
      const res = await this.send(url, { method, headers, body: init.body });
      if (res.status === 401 && attempt === 0 && sameOrigin && (await this.authorize(res, scope))) continue;
      return res;
    }
  }

  private async fail(res: Response, what: string): Promise<never> {
    let detail = '';
    try {
      const j = JSON.parse(new TextDecoder().decode(await this.readBody(res, MAX_ERROR_BYTES, 'an error body'))) as { errors?: { code?: string; message?: string }[] };
      if (Array.isArray(j?.errors)) detail = j.errors.map((e) => `${String(e?.code)}: ${String(e?.message)}`).join('; ').slice(0, 500);
    } catch {
      /* not JSON, too big or cut off: the status says enough */
    }
    const hint = res.status === 401 || res.status === 403 ? ` (log in: bee-ts login ${this.ref.host}, or pass -u/-p)` : res.status === 404 ? ' (no such repository or tag)' : '';
    throw new ImageError(this.ref.name, `${what}: HTTP ${res.status}${detail ? ` ${detail}` : ''}${hint}`);
  }

  private get reference(): string {
    return this.ref.digest ?? this.ref.tag ?? 'latest';
  }

  /**
   * The manifest (or index) this reference names, or `reference` (a digest) in the same
   * repository, at most 4 MiB, checked against the digest asked for and the one the registry claims.
   */
  async fetchManifest(accept: string = MANIFEST_ACCEPT, reference: string = this.reference): Promise<{ bytes: Uint8Array; digest: string; mediaType?: string }> {
    const res = await this.request('GET', `/v2/${this.ref.repository}/manifests/${reference}`, { headers: { accept } });
    if (!res.ok) await this.fail(res, 'cannot get the manifest');
    const bytes = await this.readBody(res, MAX_MANIFEST_BYTES, 'the manifest');
    const digest = sha256(bytes);
    const wanted = reference.startsWith('sha256:') ? reference : undefined;
    const claimed = res.headers.get('docker-content-digest');
    if ((wanted && digest !== wanted) || (claimed && claimed.startsWith('sha256:') && claimed !== digest))
      throw new ImageError(this.ref.name, `manifest digest ${digest} does not match ${wanted ?? claimed}`);
    return { bytes, digest, mediaType: res.headers.get('content-type')?.split(';')[0]?.trim() || undefined };
  }

  /**
   * One blob of this repository, exactly `size` bytes (its descriptor's; the read stops at the
   * first byte beyond), checked against its digest as it streams.
   */
  async fetchBlob(digest: string, size: number, max = MAX_BLOB_BYTES): Promise<Uint8Array> {
    if (!Number.isSafeInteger(size) || size < 0) throw new ImageError(this.ref.name, `blob ${digest} has a bad declared size ${size}`);
    if (size > max) throw new ImageError(this.ref.name, `blob ${digest} is declared as ${size} bytes, more than the ${max}-byte limit`);
    const r = await this.request('GET', `/v2/${this.ref.repository}/blobs/${digest}`);
    if (!r.ok) await this.fail(r, `cannot get blob ${digest}`);
    return this.readBody(r, size, `blob ${digest}`, { digest, size });
  }

  /** Pull the image into the store under its reference; returns the manifest's descriptor. */
  async pull(store: ImageStore): Promise<Descriptor> {
    const { bytes, digest } = await this.fetchManifest();
    const manifest = parseManifest(this.ref.name, bytes);
    // Only the blobs a bee image has (the config and the program), like bee's allowed media types.
    const wanted = [manifest.config, ...manifest.layers].filter((d) => d.mediaType === CONFIG_MEDIA_TYPE || d.mediaType === PROGRAM_MEDIA_TYPE);
    if (!wanted.some((d) => d.mediaType === PROGRAM_MEDIA_TYPE))
      throw new ImageError(this.ref.name, `not a bee eBPF image: no ${PROGRAM_MEDIA_TYPE} layer (config is ${manifest.config.mediaType})`);
    for (const d of wanted) if (!store.hasBlob(d.digest)) store.writeBlob(d.digest, await this.fetchBlob(d.digest, d.size));
    store.writeBlob(digest, bytes);
    const desc: Descriptor = { mediaType: manifest.mediaType ?? MANIFEST_MEDIA_TYPE, digest, size: bytes.length };
    store.tagManifest(this.ref.name, desc);
    return desc;
  }

  /** A response whose body we do not need: cancelled, so the connection is free again. */
  private async done(res: Response): Promise<void> {
    await res.body?.cancel().catch(() => {});
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
      await this.done(head);
      if (head.ok) continue;
      const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { push: true });
      if (start.status !== 202) await this.fail(start, 'cannot start a blob upload');
      await this.done(start);
      const loc = start.headers.get('location');
      if (!loc) throw new ImageError(this.ref.name, 'registry started an upload without a Location');
      const url = new URL(loc, this.base);
      url.searchParams.set('digest', digest);
      const put = await this.request('PUT', url.toString(), { headers: { 'content-type': 'application/octet-stream' }, body: data, push: true });
      if (put.status !== 201) await this.fail(put, `cannot upload blob ${digest}`);
      await this.done(put);
      uploaded++;
    }
    const res = await this.request('PUT', `/v2/${repo}/manifests/${this.reference}`, { headers: { 'content-type': mediaType }, body: manifestBytes, push: true });
    if (res.status !== 201) await this.fail(res, 'cannot put the manifest');
    await this.done(res);
    return { digest: sha256(manifestBytes), uploaded };
  }

  /**
   * Check credentials against the registry's /v2/ endpoint (`login`): the registry must ask for
   * them and then accept them, else nothing is saved.
   */
  async ping(): Promise<void> {
    const res = await this.request('GET', '/v2/', { scope: '' });
    if (!res.ok) await this.fail(res, 'login failed');
    await this.done(res);
    if (!this.authHeader) throw new ImageError(this.ref.host, `${this.base}/v2/ answered without asking for credentials, so they cannot be checked; not saved`);
  }

  /** Close this client's connections (a CLI command is done with the registry). */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

export function registryFor(ref: string, opts: RegistryOptions = {}): RegistryClient {
  return new RegistryClient(parseRef(ref), opts);
}
