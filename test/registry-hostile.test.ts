// A hostile registry, written here: endless and oversized blobs, a huge manifest, silent hangs and
// stalls, token realms on other hosts or over plain HTTP, a self-signed certificate. The client
// must stop reading at the declared size, time out, keep credentials to the registry's host, keep
// --insecure to its own connections, and leave the store and the config files safe.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_MEDIA_TYPE, ImageError, MANIFEST_MEDIA_TYPE, PROGRAM_MEDIA_TYPE, packImage, parseRef, sha256 } from '../src/bee/image.js';
import { RegistryClient, saveCredentials } from '../src/bee/registry.js';
import { ImageStore } from '../src/bee/store.js';
import { cli, need } from './helpers.js';
import { thrown } from './helpers.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), `bee-hostile-reg-${process.pid}-`));
let n = 0;
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, `${n++}-`));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;

/** A server whose behaviour each test sets; counts the body bytes it managed to send. */
async function hostile(host = '127.0.0.1', tls?: { key: string; cert: string }) {
  const state = { handler: ((_q, res) => res.writeHead(404).end()) as Handler, sent: 0, seen: [] as { path: string; auth?: string }[] };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    state.seen.push({ path: url.pathname, auth: req.headers.authorization });
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      state.sent += chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    state.handler(req, res, url);
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    state,
    host: `${host}:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Write `chunk` until the client goes away (an endless body). */
function endless(res: http.ServerResponse, chunk: Buffer) {
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

const program = Buffer.from('\x7fELF not really, but bytes with a digest');
const config = Buffer.from('{}');

function manifestFor(layer: { digest: string; size: number }) {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: { mediaType: CONFIG_MEDIA_TYPE, digest: sha256(config), size: config.length },
      layers: [{ mediaType: PROGRAM_MEDIA_TYPE, digest: layer.digest, size: layer.size, annotations: { 'org.opencontainers.image.title': 'program.o' } }],
    }),
  );
}

/** Serve a manifest and the config; the program blob is up to `blob`. */
function registry(layer: { digest: string; size: number }, blob: (res: http.ServerResponse) => void): Handler {
  const m = manifestFor(layer);
  return (_req, res, url) => {
    if (url.pathname.endsWith('/manifests/v1')) return void res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE }).end(m);
    if (url.pathname.endsWith(`/blobs/${sha256(config)}`)) return void res.writeHead(200).end(config);
    if (url.pathname.endsWith(`/blobs/${layer.digest}`)) return blob(res);
    res.writeHead(404).end();
  };
}

describe('a hostile registry: sizes', () => {
  let srv: Awaited<ReturnType<typeof hostile>>;
  beforeAll(async () => {
    srv = await hostile();
  });
  afterAll(() => srv.close());
  beforeEach(() => {
    srv.state.sent = 0;
    srv.state.seen.length = 0;
  });
  const client = (opts = {}) => new RegistryClient(parseRef(`${srv.host}/bee/probe:v1`), { plainHttp: true, ...opts });

  it('an endless blob declared as 4096 bytes: reading stops right after 4096 bytes, nothing stored', async () => {
    srv.state.handler = registry({ digest: sha256(Buffer.alloc(4096)), size: 4096 }, (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      endless(res, Buffer.alloc(64 << 10));
    });
    const store = new ImageStore(tmp());
    const t0 = Date.now();
    const err = await client().pull(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toMatch(/blob sha256:\w+ kept coming past its descriptor's 4096 bytes; refused/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    // The server got its first chunks out before the client hung up: nowhere near "endless".
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.state.sent).toBeLessThan(16 << 20);
    expect(store.list()).toEqual([]);
  });

  it('a blob whose Content-Length says 1.5 GiB for a 4 KB descriptor: refused before the body is read', async () => {
    srv.state.handler = registry({ digest: sha256(Buffer.alloc(4096)), size: 4096 }, (res) => {
      res.writeHead(200, { 'content-length': String(1536 << 20) });
      endless(res, Buffer.alloc(64 << 10));
    });
    await expect(client().pull(new ImageStore(tmp()))).rejects.toThrow(/blob sha256:\w+ is 1610612736 bytes, more than its descriptor's 4096 bytes; refused/);
  });

  it('a blob shorter than its descriptor, or with other bytes, is refused', async () => {
    srv.state.handler = registry({ digest: sha256(program), size: program.length + 10 }, (res) => res.writeHead(200).end(program));
    await expect(client().pull(new ImageStore(tmp()))).rejects.toThrow(new RegExp(`is ${program.length} bytes, its descriptor says ${program.length + 10}`));
    srv.state.handler = registry({ digest: sha256(Buffer.from('other')), size: program.length }, (res) => res.writeHead(200).end(program));
    await expect(client().pull(new ImageStore(tmp()))).rejects.toThrow(/arrived with digest sha256:\w+ \(corrupted in transit\?\)/);
  });

  it('a 300 MB manifest (declared, or chunked without a length) stops at the 4 MiB manifest limit', async () => {
    srv.state.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE, 'content-length': String(300e6) });
      endless(res, Buffer.alloc(64 << 10, 0x20));
    };
    await expect(client().pull(new ImageStore(tmp()))).rejects.toThrow(/the manifest is 300000000 bytes, more than the 4194304-byte limit; refused/);
    srv.state.sent = 0;
    srv.state.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE });
      endless(res, Buffer.alloc(64 << 10, 0x20));
    };
    await expect(client().pull(new ImageStore(tmp()))).rejects.toThrow(/the manifest kept coming past the 4194304-byte limit; refused/);
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.state.sent).toBeLessThan(32 << 20);
  });

  it('silent hang, a stall mid-body and a slow drip: each ends with a timeout error', async () => {
    // The server runs in this process: an idle limit well above its 50 ms drip, so a stalled
    // event loop on a loaded host does not turn the drip into an idle timeout.
    const t = { connectMs: 5000, idleMs: 1500, totalMs: 4000 };
    srv.state.handler = () => {}; // never answers
    let t0 = Date.now();
    await expect(client({ timeouts: t }).pull(new ImageStore(tmp()))).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:\d+: no response within 1\.5 s \(the registry accepted the connection and then hung\)/);
    expect(Date.now() - t0).toBeLessThan(12_000);
    srv.state.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE });
      res.write('{"schemaVersion":'); // and then nothing
    };
    t0 = Date.now();
    await expect(client({ timeouts: t }).pull(new ImageStore(tmp()))).rejects.toThrow(/reading the manifest: no data for 1\.5 s in the middle of a response/);
    expect(Date.now() - t0).toBeLessThan(12_000);
    srv.state.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE });
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 50);
    };
    t0 = Date.now();
    await expect(client({ timeouts: t }).pull(new ImageStore(tmp()))).rejects.toThrow(/reading the manifest: no complete answer within 4 s/);
    expect(Date.now() - t0).toBeLessThan(12_000);
  });
});

describe('a hostile registry: credentials', () => {
  let reg: Awaited<ReturnType<typeof hostile>>;
  let other: Awaited<ReturnType<typeof hostile>>;
  beforeAll(async () => {
    reg = await hostile('127.0.0.1');
    other = await hostile('127.0.0.2'); // another host name (all of 127/8 is loopback)
  });
  afterAll(async () => {
    await reg.close();
    await other.close();
  });
  const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;

  /** The registry challenges with a Bearer realm; the token service answers anyone. */
  function challenge(realm: string) {
    reg.state.seen.length = 0;
    other.state.seen.length = 0;
    const token: Handler = (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    other.state.handler = token;
    reg.state.handler = (req, res, url) => {
      if (url.pathname === '/token') return token(req, res, url);
      if (req.headers.authorization !== 'Bearer t') return void res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="s"` }).end();
      res.writeHead(404).end();
    };
  }

  it('a realm on another host gets no credentials (the token is asked for anonymously)', async () => {
    challenge(`http://${other.host}/token`);
    await expect(new RegistryClient(parseRef(`${reg.host}/bee/probe:v1`), { plainHttp: true, username: 'u', password: 'p' }).pull(new ImageStore(tmp()))).rejects.toThrow(/HTTP 404/);
    expect(other.state.seen.map((s) => s.path)).toEqual(['/token']);
    expect(other.state.seen[0]!.auth).toBeUndefined();
    // The same realm on the registry's own host (plain HTTP by --plain-http) gets them.
    challenge(`http://${reg.host}/token`);
    await expect(new RegistryClient(parseRef(`${reg.host}/bee/probe:v1`), { plainHttp: true, username: 'u', password: 'p' }).pull(new ImageStore(tmp()))).rejects.toThrow(/HTTP 404/);
    expect(reg.state.seen.find((s) => s.path === '/token')?.auth).toBe(basic);
  });

  it('a realm that refuses the anonymous request: the error says the credentials were withheld and why', async () => {
    challenge(`http://${other.host}/token`);
    other.state.handler = (req, res) => res.writeHead(req.headers.authorization ? 200 : 401).end('{"token":"t"}');
    await expect(new RegistryClient(parseRef(`${reg.host}/bee/probe:v1`), { plainHttp: true, username: 'u', password: 'p' }).pull(new ImageStore(tmp()))).rejects.toThrow(
      /token request to http:\/\/127\.0\.0\.2:\d+ failed: HTTP 401 \(your credentials for 127\.0\.0\.1:\d+ were not sent to http:\/\/127\.0\.0\.2:\d+/,
    );
    expect(other.state.seen.every((s) => s.auth === undefined)).toBe(true);
  });

  it('realmTrusted: https on the registry host name; http only for a --plain-http registry; docker.io → auth.docker.io', () => {
    const c = (ref: string, plainHttp = false) => new RegistryClient(parseRef(ref), { plainHttp });
    expect(c('r.example/x:1').realmTrusted(new URL('https://r.example/token'))).toBe(true);
    expect(c('r.example/x:1').realmTrusted(new URL('https://r.example:8443/token'))).toBe(true);
    expect(c('r.example/x:1').realmTrusted(new URL('http://r.example/token'))).toBe(false);
    expect(c('r.example/x:1').realmTrusted(new URL('https://evil.example/token'))).toBe(false);
    expect(c('r.example/x:1', true).realmTrusted(new URL('http://r.example/token'))).toBe(true);
    expect(c('r.example/x:1', true).realmTrusted(new URL('http://evil.example/token'))).toBe(false);
    expect(c('docker.io/library/x:1').realmTrusted(new URL('https://auth.docker.io/token'))).toBe(true);
    expect(c('docker.io/library/x:1').realmTrusted(new URL('http://auth.docker.io/token'))).toBe(false);
  });

  it('login: a registry that never asks for credentials, or a realm elsewhere, saves nothing', async () => {
    reg.state.handler = (_q, res) => res.writeHead(200).end('{}');
    const cfgDir = tmp();
    // The CLI runs as a child while this process keeps serving (spawnSync would block the server).
    const login = (host: string) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [cli, '--config-dir', cfgDir, '--plain-http', 'login', host, '-u', 'u', '--password-stdin'], { timeout: 30_000 });
        let stderr = '';
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (status) => resolve({ status, stderr }));
        c.stdin.end('p\n');
      });
    const open = await login(reg.host);
    expect(open.status).not.toBe(0);
    expect(open.stderr).toMatch(/answered without asking for credentials, so they cannot be checked; not saved/);
    challenge(`http://${other.host}/token`);
    other.state.handler = (req, res) => res.writeHead(req.headers.authorization ? 200 : 401).end('{"token":"t"}');
    const elsewhere = await login(reg.host);
    expect(elsewhere.status).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/were not sent to/);
    expect(fs.existsSync(path.join(cfgDir, 'config.json'))).toBe(false);
  });
});

describe('--insecure is per client', () => {
  const dir = tmp();
  const ok = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' }).status === 0;
  const skip = need(ok, 'openssl is needed to make a self-signed certificate: apt-get install openssl');
  let srv: Awaited<ReturnType<typeof hostile>>;
  beforeAll(async () => {
    if (skip) return;
    srv = await hostile('127.0.0.1', { key: fs.readFileSync(`${dir}/key.pem`, 'utf8'), cert: fs.readFileSync(`${dir}/cert.pem`, 'utf8') });
    srv.state.handler = registry({ digest: sha256(program), size: program.length }, (res) => res.writeHead(200).end(program));
  });
  afterAll(() => srv?.close());

  it.skipIf(!!skip)('a self-signed registry: refused without --insecure, pulled with it, and the process-wide TLS check stays on', async () => {
    const ref = parseRef(`${srv.host}/bee/probe:v1`);
    await expect(new RegistryClient(ref).pull(new ImageStore(tmp()))).rejects.toThrow(/use --insecure to accept its certificate/);
    const store = new ImageStore(tmp());
    await new RegistryClient(ref, { insecure: true }).pull(store);
    expect(Buffer.from(store.load(ref.name).program).equals(program)).toBe(true);
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    // Any other TLS connection of the process still checks certificates.
    await expect(fetch(`https://${srv.host}/v2/`)).rejects.toThrow();
  });
});

describe('store and config files', () => {
  it('a symlink planted where the old code put its temporary file is not followed; no temporary file is left', () => {
    const dir = tmp();
    const store = new ImageStore(path.join(dir, 'store'));
    const img = packImage({ program });
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'keep me');
    const hex = sha256(program).slice(7);
    fs.mkdirSync(path.join(dir, 'store', 'blobs', 'sha256'), { recursive: true });
    fs.symlinkSync(victim, path.join(dir, 'store', 'blobs', 'sha256', `${hex}.tmp-${process.pid}`));
    fs.symlinkSync(victim, path.join(dir, 'store', `index.json.tmp-${process.pid}`));
    store.save('r.example/bee/p:v1', img);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
    expect(Buffer.from(store.load('r.example/bee/p:v1').program).equals(program)).toBe(true);
    const leftovers = fs.readdirSync(path.join(dir, 'store'), { recursive: true }).map(String).filter((f) => f.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
  });

  it('crafted index.json and manifests give ImageErrors naming the problem, never TypeErrors', () => {
    const dir = tmp();
    const store = new ImageStore(dir);
    const idx = path.join(dir, 'index.json');
    for (const [text, why] of [
      ['null', /no manifests array/],
      ['{"manifests":[null]}', /manifests\[0\] is not an object/],
      ['{"manifests":[{"digest":5}]}', /manifests\[0\] has a bad digest 5/],
      [`{"manifests":[{"digest":"${sha256(program)}","mediaType":"x","size":1,"annotations":[]}]}`, /annotations that are not a string map/],
      [`{"manifests":[{"digest":"${sha256(program)}","mediaType":"x","size":-1}]}`, /bad size -1/],
      ['{"manifests":', /not valid JSON/],
    ] as const) {
      fs.writeFileSync(idx, text);
      const err = thrown(() => store.list());
      expect(err, text).toBeInstanceOf(ImageError);
      expect((err as Error).message, text).toMatch(why);
      expect(() => store.resolve('x:1'), text).toThrow(ImageError);
    }
    // A manifest blob that parses but is not a manifest.
    for (const bad of ['null', '{"schemaVersion":2,"config":null,"layers":[]}', '{"schemaVersion":2,"config":{},"layers":[null]}', '{"schemaVersion":2,"config":{"digest":"sha256:00"},"layers":[],"annotations":5}']) {
      const bytes = Buffer.from(bad);
      store.writeBlob(sha256(bytes), bytes);
      fs.writeFileSync(idx, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MANIFEST_MEDIA_TYPE, digest: sha256(bytes), size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'x:1' } }] }));
      expect(() => store.load('x:1'), bad).toThrow(ImageError);
    }
    // index.json as a FIFO or /dev/zero: refused at once.
    fs.rmSync(idx);
    fs.symlinkSync('/dev/zero', idx);
    expect(() => store.list()).toThrow(/must be a regular file, and this is a character device/);
  });

  it('login writes 0600, tightening an existing 0644 config, and replaces a planted symlink', () => {
    const dir = tmp();
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ auths: { 'other.io': { auth: 'eDp5' } } }), { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    saveCredentials(file, 'r.io', 'u', 'p');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).auths['other.io'].auth).toBe('eDp5');
    const victim = path.join(dir, 'victim.json');
    fs.writeFileSync(victim, '{}', { mode: 0o644 });
    const link = path.join(dir, 'linked.json');
    fs.symlinkSync(victim, link);
    saveCredentials(link, 'r.io', 'u', 'p');
    expect(fs.readFileSync(victim, 'utf8')).toBe('{}');
    expect(fs.lstatSync(link).isFile()).toBe(true);
    expect(fs.statSync(link).mode & 0o777).toBe(0o600);
  });
});
