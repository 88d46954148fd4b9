// examples/sockredir: sockops (on this process's cgroup v2) puts both ends of a loopback TCP
// connection into a SOCKHASH, sk_msg redirects what the client sends straight into the server
// socket's receive queue. Shown by the programs' counters, the data arriving intact, and TCP's
// own accounting (tcp_info bytes_sent via ss) staying at zero for the redirected bytes, where an
// unredirected connection counts every byte.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroup2Root } from '../../src/link/attach.js';
import { BpfObject } from '../../src/loader/object.js';
import { needKernel, root } from '../helpers.js';

const skip = needKernel();

/** This process's cgroup v2 directory. */
function ownCgroup(): string {
  const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!;
  return path.join(cgroup2Root(), line.slice(3));
}

/**
 * tcp_info bytes_sent of the connection from local port `sport` (0 when ss leaves it out: it
 * prints only nonzero counters). Without the kernel's tcp_diag, ss reads /proc/net/tcp and shows
 * no tcp_info at all: that is an error here, not a 0.
 */
function bytesSent(sport: number): number {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${sport} )`], { encoding: 'utf8' });
  if (!/\bcwnd:\d+/.test(out)) throw new Error(`ss shows no tcp_info for the connection from port ${sport} (is tcp_diag loaded?): ${JSON.stringify(out)}`);
  const m = /bytes_sent:(\d+)/.exec(out);
  return m ? Number(m[1]) : 0;
}

async function listen(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** One connection: the client sends `data` once the server accepted; resolves with what arrived and the sender's bytes_sent. */
async function transfer({ server, port }: { server: net.Server; port: number }, data: Buffer): Promise<{ received: Buffer; clientBytesSent: number }> {
  try {
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', r));
    const s = await accepted;
    const chunks: Buffer[] = [];
    let n = 0;
    const done = new Promise<void>((r) =>
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
        if (n >= data.length) r();
      }),
    );
    client.write(data);
    await done;
    const sent = bytesSent((client.address() as net.AddressInfo).port);
    client.destroy();
    s.destroy();
    return { received: Buffer.concat(chunks), clientBytesSent: sent };
  } finally {
    server.close();
  }
}

describe.skipIf(skip)('examples/sockredir: sockops + sk_msg redirect local TCP past the stack', () => {
  it('the bytes arrive without TCP sending them, counted by the programs; sk_msg works through a link and through PROG_ATTACH', async () => {
    const data = randomBytes(256 << 10);
    // Control: without the example, TCP sends every byte.
    const plain = await transfer(await listen(), data);
    expect(plain.received.equals(data)).toBe(true);
    expect(plain.clientBytesSent).toBeGreaterThanOrEqual(data.length);

    for (const attachMode of ['auto', 'attach'] as const) {
      // Only connections to or from this test's server port, in this process's cgroup.
      const srv = await listen();
      using o = BpfObject.open(path.join(root, 'examples/sockredir.o'));
      o.setConstant('port', srv.port);
      o.load();
      const links = o.attachAll({ add_established: { cgroup: ownCgroup() }, redirect_to_peer: { attachMode } });
      expect(links.map((l) => l.kind).sort()).toEqual(['cgroup', 'sockmap']);
      expect(links.find((l) => l.kind === 'sockmap')!.target).toMatch(attachMode === 'attach' ? /prog attach/ : /^sk_msg/);
      const r = await transfer(srv, data);
      expect(r.received.equals(data)).toBe(true);
      expect(o.globals.get('sockets_added')).toBe(2n);
      expect(o.globals.get('bytes_redirected')).toBe(BigInt(data.length));
      expect(o.globals.get('msgs_redirected') as bigint).toBeGreaterThanOrEqual(1n);
      expect(o.globals.get('redirect_misses')).toBe(0n);
      // Redirected to the peer's ingress queue: not one byte went out as a TCP segment.
      expect(r.clientBytesSent).toBe(0);
      for (const l of links) l.close();
    }
  });
});
