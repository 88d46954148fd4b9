// bee's image commands end to end against a real OCI registry (Debian's docker-registry, the CNCF
// distribution server) and skopeo (containers/image) as an independent reader and writer of both
// the registry and our OCI-layout store. `run REF` loads the pulled image into the kernel.
import { type ChildProcess, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, hasCommand, need, needKernel, root, runCli } from './helpers.js';
import { startRegistry } from './registry-helper.js';

const skip = need(hasCommand('docker-registry') && hasCommand('skopeo') && hasCommand('htpasswd'), 'docker-registry, skopeo and apache2-utils (htpasswd) are needed: apt-get install docker-registry skopeo apache2-utils');

describe.skipIf(skip)('images through a real registry', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-reg-'));
  let open: { host: string; proc: ChildProcess };
  let locked: { host: string; proc: ChildProcess };
  const storeA = path.join(tmp, 'storeA');
  const storeB = path.join(tmp, 'storeB');
  const object = path.join(tmp, 'opensnoop.o');
  // A HOME of the test's own: credentials also come from ~/.docker/config.json, which the machine
  // running the tests may have (with entries, or in a form this client refuses).
  const env = { ...process.env, HOME: path.join(tmp, 'home') };
  const bee = (store: string, ...args: string[]) => runCli(['--storage', store, '--config-dir', path.join(tmp, 'cfg'), '--plain-http', ...args], { env });

  beforeAll(async () => {
    fs.mkdirSync(path.join(tmp, 'open'));
    fs.mkdirSync(path.join(tmp, 'locked'));
    open = await startRegistry(path.join(tmp, 'open'), false);
    locked = await startRegistry(path.join(tmp, 'locked'), true);
  }, 90_000);
  afterAll(() => {
    open?.proc.kill();
    locked?.proc.kill();
  });

  it('build REF stores an image; push, pull into another store: the same bytes and annotations', () => {
    const ref = `${open.host}/bee/opensnoop:v1`;
    const b = bee(storeA, 'build', path.join(root, 'examples', 'opensnoop.c'), ref, '-o', object, '--description', 'file opens', '--authors', 'bee-ts tests');
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toContain(`Saved image ${ref}`);
    const list = bee(storeA, 'list');
    expect(list.stdout).toMatch(new RegExp(`^${ref.replace(/[.]/g, '\\.')} +\\| Linux +\\| ${os.release().replace(/[.]/g, '\\.')} +\\| ${os.machine()}`, 'm'));
    const push = bee(storeA, 'push', ref);
    expect(push.status, push.stderr).toBe(0);
    expect(push.stderr).toMatch(/Successfully pushed .* 2 blobs uploaded/);
    const pull = bee(storeB, 'pull', ref);
    expect(pull.status, pull.stderr).toBe(0);
    const d = bee(storeB, 'describe', ref);
    expect(d.stdout).toContain('| Description | file opens');
    expect(d.stdout).toContain('| Authors     | bee-ts tests');
    // The program bytes in store B are the object build wrote.
    const idx = JSON.parse(fs.readFileSync(path.join(storeB, 'index.json'), 'utf8'));
    const manifest = JSON.parse(fs.readFileSync(path.join(storeB, 'blobs', 'sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
    const layer = fs.readFileSync(path.join(storeB, 'blobs', 'sha256', manifest.layers[0].digest.slice(7)));
    expect(layer.equals(fs.readFileSync(object))).toBe(true);
    // Pull of a tag that is not there: the registry's reason and a non-zero exit.
    // (flags after the subcommand work too, as bee's persistent flags)
    const missing = runCli(['pull', `${open.host}/bee/opensnoop:nope`, '--storage', storeB, '--plain-http'], { env });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/HTTP 404 MANIFEST_UNKNOWN/);
  });

  it('skopeo reads our store and our pushes, and writes a layout and registry images we read', () => {
    const ref = `${open.host}/bee/opensnoop:v1`;
    // Our OCI layout → registry, by skopeo; then we pull what skopeo pushed.
    const viaSkopeo = `${open.host}/bee/via-skopeo:v1`;
    const copy = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${storeA}:${ref}`, `docker://${viaSkopeo}`], { encoding: 'utf8' });
    expect(copy.status, copy.stderr).toBe(0);
    expect(bee(storeB, 'pull', viaSkopeo).status).toBe(0);
    // Our push → skopeo's raw view of the manifest has bee's media types and titles.
    const raw = JSON.parse(spawnSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`], { encoding: 'utf8' }).stdout);
    expect(raw.config.mediaType).toBe('application/ebpf.oci.image.config.v1+json');
    expect(raw.layers[0]).toMatchObject({ mediaType: 'application/ebpf.oci.image.program.v1+binary', annotations: { 'org.opencontainers.image.title': 'program.o' } });
    // Registry → an OCI layout written by skopeo → we read it as a store.
    const layout = path.join(tmp, 'skopeo-layout');
    const out = spawnSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:${ref}`], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const d = bee(layout, 'describe', ref);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain('file opens');
  });

  it('login (password on stdin) saves credentials that push and pull then use; without them: 401 and a hint', () => {
    const ref = `${locked.host}/bee/opensnoop:v1`;
    expect(bee(storeA, 'tag', `${open.host}/bee/opensnoop:v1`, ref).status).toBe(0);
    const denied = bee(storeA, 'push', ref);
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toMatch(/HTTP 401.*bee-ts login/);
    const wrong = spawnSync(process.execPath, [cli, '--config-dir', path.join(tmp, 'cfg'), '--plain-http', 'login', locked.host, '-u', 'bee', '--password-stdin'], { input: 'nope\n', encoding: 'utf8', env });
    expect(wrong.status).not.toBe(0);
    expect(fs.existsSync(path.join(tmp, 'cfg', 'config.json'))).toBe(false);
    const login = spawnSync(process.execPath, [cli, '--config-dir', path.join(tmp, 'cfg'), '--plain-http', '-u', 'bee', 'login', locked.host, '--password-stdin'], { input: 'hunter2\n', encoding: 'utf8', env });
    expect(login.status, login.stderr).toBe(0);
    expect(login.stdout).toBe('Login Succeeded\n');
    expect(bee(storeA, 'push', ref).status).toBe(0);
    const c = path.join(tmp, 'storeC');
    expect(bee(c, 'pull', ref).status).toBe(0);
    expect(bee(c, 'list').stdout).toContain(ref);
  });

  it.skipIf(!!needKernel())('run REF pulls into the store when needed and runs the image', () => {
    const ref = `${open.host}/bee/opensnoop:v1`;
    const storeD = path.join(tmp, 'storeD');
    const r = bee(storeD, 'run', ref, '--no-tty', '--no-metrics', '--duration', '1s');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${ref} is not in ${storeD}; pulling it`);
    expect(r.stderr).toContain(`running ${ref}: 1 program attached, watching print_opens (print)`);
    // A second run finds it in the store: no pull.
    const again = bee(storeD, 'run', ref, '--no-tty', '--no-metrics', '--duration', '1s');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('pulling');
  });
});
