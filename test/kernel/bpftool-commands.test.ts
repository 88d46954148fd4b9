// net attach|detach, perf list and prog tracelog side by side with bpftool 7.1 (tcx, which 7.1
// does not have, checked through the kernel's own query instead).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkFeatures } from '../../src/syscall/features.js';
import { childBound, cli, fixture, hasCommand, need, needKernel, runCli, waitUntil } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)') ?? need(hasCommand('ip'), 'iproute2 is not installed');
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
const bee = (...args: string[]) => {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`bee-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};
const sh = (c: string) => execFileSync('sh', ['-c', c], { encoding: 'utf8' });

describe.skipIf(skip)('net attach/detach, perf list, prog tracelog', () => {
  const pins = `/sys/fs/bpf/bee-cmds-${process.pid}`;
  const dev = `bcmd${process.pid % 100000}`;
  beforeAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
    fs.mkdirSync(pins);
    // libbpf 1.1 cannot load attach.bpfel.o (it does not know SEC("tc/egress")): bee-ts loads, both tools attach.
    bee('prog', 'loadall', fixture('attach.bpfel.o'), `${pins}/p`);
    sh(`ip link add ${dev} type veth peer name ${dev}p && ip link set ${dev} up && ip link set ${dev}p up`);
  });
  afterAll(() => {
    spawnSync('ip', ['link', 'del', dev]);
    fs.rmSync(pins, { recursive: true, force: true });
  });

  it('net attach|detach xdp, xdpgeneric (and prefixes): what bpftool sees, and bpftool\'s errors', () => {
    const xdp = `${pins}/p/count_xdp`;
    const list = () => bpftool('-j', 'net', 'list', 'dev', dev);
    bee('net', 'attach', 'xdpgeneric', 'pinned', xdp, 'dev', dev);
    const shown = JSON.parse(list())[0].xdp;
    expect(shown).toEqual([{ devname: dev, ifindex: expect.any(Number), mode: 'generic', id: JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', xdp)).id }]);
    expect(bee('net', 'list', 'dev', dev)).toBe(bpftool('net', 'list', 'dev', dev));
    // A second attach without overwrite: bpftool's message, exit 1 (bpftool: 255).
    const again = runCli(['net', 'attach', 'xdpgeneric', 'pinned', xdp, 'dev', dev]);
    const peer = spawnSync('bpftool', ['net', 'attach', 'xdpgeneric', 'pinned', xdp, 'dev', dev], { encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr.split('\n')[0]).toBe(peer.stderr.split('\n').find((l) => l.startsWith('Error:')));
    expect(runCli(['net', 'att', 'xdpg', 'pinned', xdp, 'd', dev, 'over']).status).toBe(0);
    expect(JSON.parse(bee('-j', 'net', 'detach', 'xdpgeneric', 'dev', dev))).toBeNull();
    expect(JSON.parse(list())[0].xdp).toEqual([]);
    // bpftool attaches, bee-ts detaches.
    bpftool('net', 'attach', 'xdpgeneric', 'pinned', xdp, 'dev', dev);
    bee('net', 'detach', 'xdpgeneric', 'dev', dev);
    expect(JSON.parse(list())[0].xdp).toEqual([]);
    const bad = runCli(['net', 'attach', 'xdpfoo', 'pinned', xdp, 'dev', dev]);
    expect(bad.status).toBe(2);
    expect(runCli(['net', 'attach', 'xdp', 'pinned', xdp, 'dev', 'nosuchdev0']).stderr).toBe('Error: invalid devname nosuchdev0\n');
  });

  // TCX is 6.6: below it (the 6.1 VM) the kernel refuses the attach type, and bee-ts says which feature is missing.
  it('net attach|detach tcx_ingress|tcx_egress (newer bpftool syntax): the kernel lists the program, then not; refused naming Linux 6.6 below it', () => {
    const tc = `${pins}/p/count_tc`;
    if (needKernel('6.6', 'TCX links', linkFeatures.tcx)) {
      const r = runCli(['net', 'attach', 'tcx_ingress', 'pinned', tc, 'dev', dev]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^Error: interface tcx_ingress attach failed: Invalid argument \(this \S+ kernel has no TCX: Linux 6\.6 or later\)\n$/);
      expect(bee('net', 'list', 'dev', dev)).not.toMatch(/tcx\//);
      return;
    }
    const id = JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', tc)).id;
    for (const [type, dir] of [
      ['tcx_ingress', 'ingress'],
      ['tcx_egress', 'egress'],
    ]) {
      bee('net', 'attach', type!, 'pinned', tc, 'dev', dev);
      expect(bee('net', 'list', 'dev', dev)).toMatch(new RegExp(`^${dev}\\(\\d+\\) tcx/${dir} count_tc prog_id ${id}`, 'm'));
      bee('net', 'detach', type!, 'dev', dev);
      expect(bee('net', 'list', 'dev', dev)).not.toMatch(new RegExp(`tcx/${dir}`));
    }
  });

  it('perf list: the same lines and JSON as bpftool for the tracepoint this process holds', async () => {
    await import('../../src/syscall/native.js');
    const { BpfObject } = await import('../../src/loader/object.js');
    using o = BpfObject.open(fixture('bpftool_show.bpfel.o')).load();
    using l = o.program('show_me').attach();
    void l;
    const mine = (s: string) => s.split('\n').filter((x) => x.startsWith(`pid ${process.pid} `));
    const ours = mine(bee('perf', 'list'));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.some((x) => /prog_id \d+ {2}(tracepoint {2}sys_enter_getppid|raw_tracepoint)/.test(x))).toBe(true);
    expect(ours).toEqual(mine(bpftool('perf', 'list')));
    const j = (s: string) => (JSON.parse(s) as { pid: number }[]).filter((x) => x.pid === process.pid);
    expect(j(bee('-j', 'perf', 'show'))).toEqual(j(bpftool('-j', 'perf', 'show')));
  });

  it('prog tracelog streams trace_pipe (plain, and a JSON array of lines under -j) until interrupted', async () => {
    const marker = `bee-ts-tracelog-${process.pid}`;
    for (const json of [false, true]) {
      const child = spawn(process.execPath, [cli, ...(json ? ['-j'] : []), 'prog', 'tracelog'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const code = new Promise((r) => child.on('exit', r));
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      // The marker is written until it shows (the child may still be starting on a loaded host).
      await waitUntil(() => {
        fs.writeFileSync('/sys/kernel/tracing/trace_marker', `${marker}\n`);
        return out.includes(marker);
      }, childBound(30_000), 200);
      child.kill('SIGINT');
      expect(await code, err).toBe(0);
      expect(out).toContain(marker);
      if (json) {
        const lines = JSON.parse(out) as string[];
        expect(lines.some((l) => l.includes(`tracing_mark_write: ${marker}`) && l.endsWith('\n'))).toBe(true);
      }
    }
  });
});
