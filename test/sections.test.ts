// The SEC() table side by side with libbpf: for every row, a section name it matches is given to
// the installed libbpf's libbpf_prog_type_by_name() (a test peer, never a runtime dependency),
// and the program type and expected attach type must agree. Rows newer than the installed
// libbpf (it answers ESRCH) are counted, and must be rows libbpf added after that version.
import fs from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { matchSection, SECTION_DEFS } from '../src/loader/sections.js';
import { need } from './helpers.js';

const LIB = ['/usr/lib/x86_64-linux-gnu/libbpf.so.1', '/usr/lib/aarch64-linux-gnu/libbpf.so.1', '/usr/lib64/libbpf.so.1', '/usr/lib/libbpf.so.1'].find((p) => fs.existsSync(p));
const skip = need(LIB !== undefined, 'libbpf.so.1 (Debian libbpf1/libbpf-dev) is the peer for the SEC() table');

/** A section name the row matches, with a target where the row takes one. */
function sampleName(prefix: string): string {
  if (prefix.endsWith('+')) return `${prefix.slice(0, -1)}/sample_target`;
  if (prefix.endsWith('/')) return `${prefix}sample_target`;
  return prefix;
}

// Rows libbpf 1.7's section_defs has and libbpf 1.1's (the Debian bookworm peer) has not, read
// from both versions' libbpf.c. A row outside this list that the peer does not know fails.
const NEWER_THAN_PEER = new Set(
  (
    'cgroup/connect_unix cgroup/getpeername_unix cgroup/getsockname_unix cgroup/recvmsg_unix cgroup/sendmsg_unix ' +
    'fsession+ fsession.s+ kprobe.session+ netfilter netkit/peer netkit/primary sk_skb/verdict struct_ops.s+ ' +
    'tc/egress tc/ingress tcx/egress tcx/ingress uprobe.multi+ uprobe.multi.s+ uprobe.session+ uprobe.session.s+ ' +
    'uretprobe.multi+ uretprobe.multi.s+ usdt.s+'
  ).split(' '),
);

describe.skipIf(skip)('SEC() table agrees with libbpf', () => {
  it('every row gives the program and expected attach type libbpf gives', () => {
    const lib = koffi.load(LIB!);
    const byName = lib.func('int libbpf_prog_type_by_name(const char *name, _Out_ int *prog_type, _Out_ int *expected_attach_type)');
    const disagree: string[] = [];
    const unknownToPeer: string[] = [];
    let compared = 0;
    for (const d of SECTION_DEFS) {
      const name = sampleName(d.prefix);
      expect(matchSection(name)?.def, `${name} matches its own row first`).toBe(d);
      const pt = [0];
      const at = [0];
      const r = byName(name, pt, at);
      if (r !== 0) {
        unknownToPeer.push(d.prefix);
        continue;
      }
      compared++;
      if (pt[0] !== d.progType || at[0] !== (d.attachType ?? 0)) disagree.push(`${name}: libbpf ${pt[0]}/${at[0]}, ours ${d.progType}/${d.attachType ?? 0}`);
    }
    expect(disagree).toEqual([]);
    expect(unknownToPeer.filter((p) => !NEWER_THAN_PEER.has(p))).toEqual([]);
    expect(compared).toBeGreaterThan(70);
  });
});
