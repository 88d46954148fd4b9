// prog attach|detach (sk_skb programs on a sockmap, a flow dissector on a network namespace the
// test creates) and cgroup attach|detach (multi, override) side by side with bpftool 7.1: each
// tool detaches what the other attached, both list the same thing, and both refuse the same
// mistakes with the same message.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel('6.0', 'BPF_PROG_QUERY on a sockmap') ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)') ?? need(hasCommand('ip') && hasCommand('nsenter'), 'iproute2 or util-linux (nsenter) is not installed');
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
const peer = (...args: string[]) => spawnSync('bpftool', args, { encoding: 'utf8' });
const bee = (...args: string[]) => {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`bee-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};
/** bpftool's `Error: ...` line (7.1 prints its usage text after some of them). */
const peerError = (r: { stderr: string }) => r.stderr.split('\n').find((l) => l.startsWith('Error:'));

describe.skipIf(skip)('prog attach|detach and cgroup attach|detach vs bpftool', () => {
  const pins = `/sys/fs/bpf/bee-attach-${process.pid}`;
  beforeAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
    fs.mkdirSync(pins);
  });
  afterAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
  });

  it('prog attach|detach sk_skb programs on a sockmap: what the kernel then holds, both ways, and the same errors', async () => {
    bee('prog', 'loadall', fixture('sk_skb.bpfel.o'), `${pins}/sk`, '--pinmaps', `${pins}/skm`);
    await import('../../src/syscall/native.js');
    const { objGet, progQuery } = await import('../../src/syscall/bpf.js');
    const { AttachType } = await import('../../src/syscall/constants.js');
    const map = `${pins}/skm/skb_map`;
    const id = (p: string) => JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${pins}/sk/${p}`)).id as number;
    const attached = (type: number) => {
      using fd = objGet(map, 0, 'skb_map', 'map');
      return progQuery(fd.value, type, 'skb_map').progIds;
    };
    // bee-ts attaches (the long and the traditional names), bpftool detaches.
    for (const [prog, name, type] of [
      ['parser', 'stream_parser', AttachType.SK_SKB_STREAM_PARSER],
      ['stream_verdict', 'sk_skb_stream_verdict', AttachType.SK_SKB_STREAM_VERDICT],
      ['skb_verdict', 'skb_v', AttachType.SK_SKB_VERDICT],
    ] as const) {
      expect(attached(type)).toEqual([]);
      bee('prog', 'attach', 'pinned', `${pins}/sk/${prog}`, name, 'pinned', map);
      expect(attached(type)).toEqual([id(prog)]);
      bpftool('prog', 'detach', 'pinned', `${pins}/sk/${prog}`, name, 'pinned', map);
      expect(attached(type)).toEqual([]);
    }
    // bpftool attaches, bee-ts detaches (prefixes of the commands and keywords, -j prints null).
    bpftool('prog', 'attach', 'pinned', `${pins}/sk/parser`, 'sk_skb_stream_parser', 'pinned', map);
    expect(JSON.parse(bee('-j', 'prog', 'det', 'pi', `${pins}/sk/parser`, 'stream_p', 'pi', map))).toBeNull();
    expect(attached(AttachType.SK_SKB_STREAM_PARSER)).toEqual([]);
    // Detaching what is not attached: bpftool's message (plus the errno), exit 1.
    const again = runCli(['prog', 'detach', 'pinned', `${pins}/sk/parser`, 'stream_parser', 'pinned', map]);
    const peerAgain = peer('prog', 'detach', 'pinned', `${pins}/sk/parser`, 'stream_parser', 'pinned', map);
    expect(again.status).toBe(1);
    expect(peerAgain.status).not.toBe(0);
    expect(again.stderr).toBe(`${peerError(peerAgain)}: No such file or directory\n`);
    // An unknown attach type, a missing MAP: usage mistakes (2), bpftool's words first.
    const bad = runCli(['prog', 'attach', 'pinned', `${pins}/sk/parser`, 'sk_skb_parser', 'pinned', map]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.startsWith(`${peerError(peer('prog', 'attach', 'pinned', `${pins}/sk/parser`, 'sk_skb_parser', 'pinned', map))} 'sk_skb_parser'`)).toBe(true);
    const noMap = runCli(['prog', 'attach', 'pinned', `${pins}/sk/parser`, 'stream_parser']);
    expect(noMap.status).toBe(2);
    expect(noMap.stderr.startsWith(peerError(peer('prog', 'attach', 'pinned', `${pins}/sk/parser`, 'stream_parser'))!)).toBe(true);
    // The kernel refuses a program of the wrong kind for the attach type: run-time failure (1).
    const wrong = runCli(['prog', 'attach', 'pinned', `${pins}/sk/parser`, 'sk_msg_verdict', 'pinned', map]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^Error: failed prog attach to map: /);
  });

  it('prog attach|detach flow_dissector on a network namespace of its own: the same net list as bpftool', () => {
    const ns = `bee-fd-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      bee('prog', 'loadall', fixture('sock.bpfel.o'), `${pins}/sock`);
      const prog = `${pins}/sock/count_flow`;
      const id = JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', prog)).id as number;
      // nsenter, not `ip netns exec`: that remounts /sys, and with it the bpffs holding the pins.
      const inNs = (cmd: string, ...args: string[]) => execFileSync('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], { encoding: 'utf8' });
      const beeNs = (...args: string[]) => inNs(process.execPath, cli, ...args);
      beeNs('prog', 'attach', 'pinned', prog, 'flow_dissector');
      const listed = inNs('bpftool', 'net', 'list');
      expect(listed).toContain(`flow_dissector:\nid ${id}\n`);
      expect(beeNs('net', 'list')).toBe(listed);
      // bpftool 7.1's JSON for it is not JSON (`"flow_dissector":["id":N]`); bee-ts prints the object.
      expect(inNs('bpftool', '-j', 'net', 'list')).toContain(`"flow_dissector":["id":${id}]`);
      expect(beeNs('-j', 'net', 'list').replace(`[{"id":${id}}]`, `["id":${id}]`)).toBe(inNs('bpftool', '-j', 'net', 'list'));
      // The host's namespace is untouched.
      expect(bee('net', 'list')).not.toContain(`flow_dissector:\nid ${id}\n`);
      inNs('bpftool', 'prog', 'detach', 'pinned', prog, 'flow_dissector');
      expect(inNs('bpftool', 'net', 'list')).not.toContain(`id ${id}`);
      inNs('bpftool', 'prog', 'attach', 'pinned', prog, 'flow_dissector');
      beeNs('prog', 'detach', 'pinned', prog, 'flow_dissector');
      expect(inNs('bpftool', 'net', 'list')).not.toContain(`id ${id}`);
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });

  it('cgroup attach (multi, override, prefixes) and detach: the same cgroup show as bpftool, both ways, and the same errors', async () => {
    const { cgroup2Root } = await import('../../src/link/attach.js');
    const cg = `${cgroup2Root()}/bee-cgattach-${process.pid}`;
    fs.mkdirSync(cg);
    try {
      bee('prog', 'loadall', fixture('attach.bpfel.o'), `${pins}/a`);
      bee('prog', 'loadall', fixture('attach.bpfel.o'), `${pins}/b`);
      const [a, b] = [`${pins}/a/count_cgroup`, `${pins}/b/count_cgroup`];
      const id = (p: string) => JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', p)).id as number;
      const shown = () => {
        const text = bpftool('cgroup', 'show', cg);
        expect(bee('cgroup', 'show', cg)).toBe(text);
        expect(bee('-j', 'cgroup', 'show', cg)).toBe(bpftool('-j', 'cgroup', 'show', cg));
        // bpftool -j prints an empty line, not [], for a cgroup without programs.
        const json = bpftool('-j', 'cgroup', 'show', cg);
        return ((json.trim() ? JSON.parse(json) : []) as { id: number; attach_type: string; attach_flags: string }[]).map((p) => [p.id, p.attach_type, p.attach_flags]);
      };
      // bee-ts with a traditional prefix, bpftool with libbpf's name; both multi.
      bee('cgroup', 'attach', cg, 'egress', 'pinned', a, 'multi');
      bpftool('cgroup', 'attach', cg, 'cgroup_inet_egress', 'pinned', b, 'multi');
      expect(shown()).toEqual([
        [id(a), 'cgroup_inet_egress', 'multi'],
        [id(b), 'cgroup_inet_egress', 'multi'],
      ]);
      // Each detaches what the other attached.
      bpftool('cgroup', 'detach', cg, 'egress', 'pinned', a);
      expect(JSON.parse(bee('-j', 'cg', 'det', cg, 'e', 'pi', b))).toBeNull();
      expect(shown()).toEqual([]);
      // override (a prefix of it, as bpftool takes): one program, replaceable below.
      bee('cgroup', 'attach', cg, 'cgroup_inet_ingress', 'pinned', a, 'over');
      expect(shown()).toEqual([[id(a), 'cgroup_inet_ingress', 'override']]);
      // Under override (not multi) a second program replaces the first.
      const r = runCli(['cgroup', 'attach', cg, 'ingress', 'pinned', b, 'override']);
      expect(r.status).toBe(0);
      expect(shown()).toEqual([[id(b), 'cgroup_inet_ingress', 'override']]);
      // Not multi: the kernel detaches what is attached whichever program is named (its legacy rule).
      bee('cgroup', 'detach', cg, 'ingress', 'pinned', a);
      expect(shown()).toEqual([]);
      // Nothing left to detach: bpftool's message plus the errno, exit 1.
      const miss = runCli(['cgroup', 'detach', cg, 'ingress', 'pinned', b]);
      expect(miss.status).toBe(1);
      expect(miss.stderr.startsWith(`${peerError(peer('cgroup', 'detach', cg, 'ingress', 'pinned', b))}: `)).toBe(true);
      // Usage mistakes (2) with bpftool's words first; a kernel refusal (1).
      for (const args of [
        [cg, 'egress', 'pinned', a, 'bogus'],
        [cg, 'egress_nope', 'pinned', a],
        [cg, 'egress', 'pinned'],
      ]) {
        const ours = runCli(['cgroup', 'attach', ...args]);
        expect(ours.status, args.join(' ')).toBe(2);
        expect(ours.stderr.startsWith(peerError(peer('cgroup', 'attach', ...args))!.replace(/: bogus$/, ': bogus ')), ours.stderr).toBe(true);
      }
      const xdp = runCli(['cgroup', 'attach', cg, 'xdp', 'pinned', a]);
      expect(xdp.status).toBe(1);
      expect(xdp.stderr.startsWith(`${peerError(peer('cgroup', 'attach', cg, 'xdp', 'pinned', a))}: `)).toBe(true);
      const gone = runCli(['cgroup', 'attach', `${cg}/nope`, 'egress', 'pinned', a]);
      expect(gone.status).toBe(1);
      expect(gone.stderr.startsWith(peerError(peer('cgroup', 'attach', `${cg}/nope`, 'egress', 'pinned', a))!)).toBe(true);
    } finally {
      for (const t of ['egress', 'ingress']) for (const p of ['a', 'b']) spawnSync('bpftool', ['cgroup', 'detach', cg, t, 'pinned', `${pins}/${p}/count_cgroup`]);
      fs.rmdirSync(cg);
    }
  });
});
