// bee's OCI images: reference parsing, the image format, the local store, and the registry client's
// auth flows (against an in-process fake registry: Basic and Bearer challenges). The real registry
// and skopeo interop tests are in images-registry.test.ts.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION_REF_NAME, CONFIG_MEDIA_TYPE, ImageError, MANIFEST_MEDIA_TYPE, PROGRAM_MEDIA_TYPE, packImage, parseManifest, parseRef, programLayer, sha256 } from '../src/bee/image.js';
import { findCredentials, parseChallenge, RegistryClient, saveCredentials } from '../src/bee/registry.js';
import { ImageStore } from '../src/bee/store.js';
import { readFixture } from './helpers.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'bee-img-'));

describe('image references', () => {
  it('parses hosts, ports, paths, tags and digests like Docker', () => {
    expect(parseRef('ghcr.io/solo-io/bumblebee/tcpconnect:0.0.15')).toMatchObject({ host: 'ghcr.io', repository: 'solo-io/bumblebee/tcpconnect', tag: '0.0.15', name: 'ghcr.io/solo-io/bumblebee/tcpconnect:0.0.15' });
    expect(parseRef('localhost:5000/x/y')).toMatchObject({ host: 'localhost:5000', repository: 'x/y', tag: 'latest', name: 'localhost:5000/x/y:latest' });
    expect(parseRef('localhost/x')).toMatchObject({ host: 'localhost', repository: 'x' });
    expect(parseRef('probe')).toMatchObject({ host: 'docker.io', repository: 'library/probe', tag: 'latest' });
    expect(parseRef('org/probe:v1')).toMatchObject({ host: 'docker.io', repository: 'org/probe', tag: 'v1' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseRef(`r.io/p@${d}`)).toMatchObject({ host: 'r.io', repository: 'p', digest: d, tag: undefined, name: `r.io/p@${d}` });
  });

  it('rejects malformed references with the reason', () => {
    expect(() => parseRef('')).toThrow(/empty/);
    expect(() => parseRef('r.io/Upper/x')).toThrow(/bad repository name component 'Upper'/);
    expect(() => parseRef('r.io/x:bad tag')).toThrow(/bad tag/);
    expect(() => parseRef('r.io/x@sha256:123')).toThrow(/bad digest/);
  });
});

describe('image format', () => {
  const program = readFixture('maps.bpfel.o');

  it("packs bee's layout: {} config titled config.json, one program.o layer, annotations", () => {
    const img = packImage({ program, description: 'd', authors: 'a' });
    const m = img.manifest;
    expect(m.mediaType).toBe(MANIFEST_MEDIA_TYPE);
    expect(m.config).toMatchObject({ mediaType: CONFIG_MEDIA_TYPE, size: 2, annotations: { 'org.opencontainers.image.title': 'config.json' } });
    expect(new TextDecoder().decode(img.blobs.get(m.config.digest))).toBe('{}');
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0]).toMatchObject({ mediaType: PROGRAM_MEDIA_TYPE, digest: sha256(program), size: program.length, annotations: { 'org.opencontainers.image.title': 'program.o' } });
    expect(m.annotations).toEqual({ 'org.opencontainers.image.authors': 'a', 'org.opencontainers.image.description': 'd' });
    expect(img.manifestDigest).toBe(sha256(img.manifestBytes));
    expect(parseManifest('x', img.manifestBytes)).toEqual(m);
    // No annotations at all without description/authors (as bee).
    expect(packImage({ program }).manifest.annotations).toBeUndefined();
  });

  it('finds the program by title, and explains images that are not bee images', () => {
    const m = packImage({ program }).manifest;
    expect(programLayer('x', m).digest).toBe(sha256(program));
    expect(() => programLayer('x', { ...m, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: m.layers[0]!.digest, size: 1 }] })).toThrow(/could not find ebpf bytes in manifest/);
    expect(() => parseManifest('x', new TextEncoder().encode('{"schemaVersion":1}'))).toThrow(ImageError);
    expect(() => parseManifest('x', new TextEncoder().encode('not json'))).toThrow(/not JSON/);
  });
});

describe('local store (OCI image layout)', () => {
  const program = readFixture('maps.bpfel.o');

  it('saves, lists, loads, tags; index.json names manifests by full reference', () => {
    const dir = tmp();
    const store = new ImageStore(dir);
    const platform = { os: 'Linux', 'os.version': '6.1.0', architecture: 'x86_64' };
    store.save('r.io/p:v1', packImage({ program, description: 'desc' }), platform);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(idx.manifests).toHaveLength(1);
    expect(idx.manifests[0].annotations[ANNOTATION_REF_NAME]).toBe('r.io/p:v1');
    expect(idx.manifests[0].platform).toEqual(platform);
    const pkg = store.load('r.io/p:v1');
    expect(Buffer.from(pkg.program).equals(program)).toBe(true);
    expect(pkg).toMatchObject({ description: 'desc', platform });
    store.tag('r.io/p:v1', 'other.io/q:v2');
    expect(store.list().map((i) => i.ref)).toEqual(['r.io/p:v1', 'other.io/q:v2']);
    expect(store.resolve('other.io/q:v2')!.descriptor.platform).toEqual(platform);
    // Saving the same name again replaces the entry; blobs are shared.
    store.save('r.io/p:v1', packImage({ program, description: 'new' }));
    expect(store.list()).toHaveLength(2);
    expect(store.load('r.io/p:v1').description).toBe('new');
    expect(fs.readdirSync(path.join(dir, 'blobs', 'sha256')).length).toBe(4); // config, program, two manifests
  });

  it('says how to get a missing image, and refuses a damaged blob', () => {
    const dir = tmp();
    const store = new ImageStore(dir);
    expect(() => store.load('r.io/none:v1')).toThrow(/not in the local store .*bee-ts pull r.io\/none:v1/);
    const img = packImage({ program });
    store.save('r.io/p:v1', img);
    const blob = path.join(dir, 'blobs', 'sha256', img.manifest.layers[0]!.digest.slice(7));
    fs.writeFileSync(blob, 'tampered');
    expect(() => store.load('r.io/p:v1')).toThrow(/does not match its digest/);
    fs.writeFileSync(path.join(dir, 'index.json'), '{oops');
    expect(() => store.list()).toThrow(/index.json: not valid JSON/);
  });
});

describe('registry auth', () => {
  it('parses WWW-Authenticate challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.io/token",service="reg.io",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.io/token', service: 'reg.io', scope: 'repository:a/b:pull' },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', params: { realm: 'x' } });
  });

  it('reads Docker-style config files, first match wins, and login writes one back', () => {
    const dir = tmp();
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    fs.writeFileSync(b, JSON.stringify({ auths: { 'https://r.io': { auth: Buffer.from('bob:s3:cret').toString('base64') } } }));
    expect(findCredentials('r.io', [a, b])).toEqual({ username: 'bob', password: 's3:cret' });
    saveCredentials(a, 'r.io', 'alice', 'pw');
    expect(findCredentials('r.io', [a, b])).toEqual({ username: 'alice', password: 'pw' });
    expect(findCredentials('other.io', [a, b])).toBeUndefined();
    expect(fs.statSync(a).mode & 0o777).toBe(0o600);
  });

  it('reads config files older Docker wrote ("email": null, keys it does not know) as Docker does; a number where a string belongs is refused by name', () => {
    const dir = tmp();
    const f = path.join(dir, 'config.json');
    const auth = Buffer.from('bob:pw').toString('base64');
    fs.writeFileSync(f, JSON.stringify({ auths: { 'r.io': { auth, email: null, extra: { any: 1 } }, 'q.io': { username: null, identitytoken: 'tok' } }, credsStore: 'desktop' }));
    expect(findCredentials('r.io', [f])).toEqual({ username: 'bob', password: 'pw' });
    expect(findCredentials('q.io', [f])).toEqual({ username: '<token>', password: 'tok' });
    saveCredentials(f, 'new.io', 'alice', 'pw2');
    expect(findCredentials('r.io', [f])).toEqual({ username: 'bob', password: 'pw' });
    expect(findCredentials('new.io', [f])).toEqual({ username: 'alice', password: 'pw2' });
    fs.writeFileSync(f, JSON.stringify({ auths: { 'r.io': { auth: 7 } } }));
    expect(() => findCredentials('r.io', [f])).toThrow(/config\.json.*auths\["r\.io"\]\.auth is not a string/);
    fs.writeFileSync(f, JSON.stringify({ auths: { 'r.io': 'x' } }));
    expect(() => findCredentials('r.io', [f])).toThrow(/auths\["r\.io"\] is not an object/);
  });

  /** A fake registry: every /v2 request needs auth, by Basic or by a Bearer token from /token. */
  let server: http.Server;
  let base = '';
  const seen: string[] = [];
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Buffer>();
  let mode: 'basic' | 'bearer' = 'bearer';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url!, base);
        seen.push(`${req.method} ${url.pathname}${url.pathname === '/token' ? `?${url.searchParams}` : ''}`);
        if (url.pathname === '/token') {
          if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) return void res.writeHead(401).end();
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `tok-${url.searchParams.get('scope')}` }));
        }
        const okBasic = req.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`;
        const reading = req.method === 'GET' || req.method === 'HEAD';
        const okBearer = req.headers.authorization?.startsWith(`Bearer tok-repository:bee/probe:${reading ? 'pull' : 'pull,push'}`);
        if (mode === 'basic' ? !okBasic : !okBearer) {
          const h = mode === 'basic' ? 'Basic realm="fake"' : `Bearer realm="${base}/token",service="fake",scope="repository:bee/probe:${req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'pull,push'}"`;
          return void res.writeHead(401, { 'www-authenticate': h, 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'auth required' }] }));
        }
        let m;
        if ((m = /^\/v2\/bee\/probe\/blobs\/(sha256:\w+)$/.exec(url.pathname))) {
          const b = blobs.get(m[1]!);
          if (!b) return void res.writeHead(404).end();
          return void res.writeHead(200).end(req.method === 'HEAD' ? undefined : b);
        }
        if (req.method === 'POST' && url.pathname === '/v2/bee/probe/blobs/uploads/') return void res.writeHead(202, { location: '/upload/1?state=x' }).end();
        if (req.method === 'PUT' && url.pathname === '/upload/1') {
          blobs.set(url.searchParams.get('digest')!, body);
          return void res.writeHead(201).end();
        }
        if ((m = /^\/v2\/bee\/probe\/manifests\/([\w.:-]+)$/.exec(url.pathname))) {
          if (req.method === 'PUT') {
            manifests.set(m[1]!, body);
            return void res.writeHead(201).end();
          }
          const b = manifests.get(m[1]!);
          if (!b) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
          return void res.writeHead(200, { 'content-type': MANIFEST_MEDIA_TYPE, 'docker-content-digest': sha256(b) }).end(b);
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ref = () => parseRef(`${base.slice(7)}/bee/probe:v1`);

  it('Bearer: push fetches a push-scoped token with the credentials, pull a pull-scoped one; bytes round-trip', async () => {
    mode = 'bearer';
    seen.length = 0;
    const program = readFixture('maps.bpfel.o');
    const src = new ImageStore(tmp());
    src.save(ref().name, packImage({ program, authors: 'me' }));
    const res = await new RegistryClient(ref(), { plainHttp: true, username: 'u', password: 'p' }).push(src);
    expect(res.uploaded).toBe(2);
    expect(seen).toContain('GET /token?service=fake&scope=repository%3Abee%2Fprobe%3Apull%2Cpush');
    expect(seen).toContain('PUT /v2/bee/probe/manifests/v1');
    seen.length = 0;
    const dst = new ImageStore(tmp());
    await new RegistryClient(ref(), { plainHttp: true, username: 'u', password: 'p' }).pull(dst);
    expect(seen).toContain('GET /token?service=fake&scope=repository%3Abee%2Fprobe%3Apull');
    const pkg = dst.load(ref().name);
    expect(Buffer.from(pkg.program).equals(program)).toBe(true);
    expect(pkg.authors).toBe('me');
    // A second push uploads nothing: the registry has every blob.
    expect((await new RegistryClient(ref(), { plainHttp: true, username: 'u', password: 'p' }).push(src)).uploaded).toBe(0);
  });

  it('Basic: the credentials go along after the challenge; wrong ones give a clear error', async () => {
    mode = 'basic';
    const dst = new ImageStore(tmp());
    await new RegistryClient(ref(), { plainHttp: true, username: 'u', password: 'p' }).pull(dst);
    expect(dst.resolve(ref().name)).toBeDefined();
    await expect(new RegistryClient(ref(), { plainHttp: true, username: 'u', password: 'wrong' }).pull(new ImageStore(tmp()))).rejects.toThrow(
      /cannot get the manifest: HTTP 401 UNAUTHORIZED: auth required \(log in: bee-ts login/,
    );
    await expect(new RegistryClient(parseRef(`${base.slice(7)}/bee/probe:nope`), { plainHttp: true, username: 'u', password: 'p' }).pull(new ImageStore(tmp()))).rejects.toThrow(
      /HTTP 404 MANIFEST_UNKNOWN/,
    );
  });

  it('a registry that is not there: the error names the host and asks whether it runs', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = parseRef(`127.0.0.1:${port}/bee/probe:v1`);
    await expect(new RegistryClient(dead, { plainHttp: true }).pull(new ImageStore(tmp()))).rejects.toThrow(
      new RegExp(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED \\(is the registry running\\?\\)`),
    );
  });
});
