// A real OCI registry for tests: Debian's docker-registry (the CNCF distribution server) on a free
// loopback port, storing into the given directory; optionally behind htpasswd Basic auth.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startRegistry(dir: string, auth: boolean): Promise<{ host: string; proc: ChildProcess }> {
  const port = await freePort();
  let authCfg = '';
  if (auth) {
    const line = spawnSync('htpasswd', ['-Bbn', 'bee', 'hunter2'], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(path.join(dir, 'htpasswd'), line + '\n');
    authCfg = `auth:\n  htpasswd:\n    realm: bee-test\n    path: ${dir}/htpasswd\n`;
  }
  fs.writeFileSync(path.join(dir, 'config.yml'), `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n${authCfg}`);
  const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  // Up to 30 s: a loaded host starts it in seconds, not the 10 s a count of 100 tries gave.
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      if (r.status === 200 || r.status === 401) return { host, proc };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error('docker-registry did not start');
}
