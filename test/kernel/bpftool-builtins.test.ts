// feature list_builtins side by side with bpftool 7.1: for every group bpftool's names (libbpf
// 1.1's tables, its compiled-in helper list) are bee-ts's first names, in the same order, text and
// JSON; bee-ts goes on with the types newer than libbpf 1.1 and the kernel's newer helpers.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hasCommand, kernelVersion, need, runCli } from '../helpers.js';

const skip = need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
const [major, minor] = kernelVersion();
const atLeast62 = major > 6 || (major === 6 && minor >= 2);
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8' });
const bee = (...args: string[]) => {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`bee-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

describe.skipIf(skip)('feature list_builtins vs bpftool', () => {
  it('bpftool 7.1 lists a prefix of what bee-ts lists, in the same order (text, -j, -p, prefixes)', () => {
    for (const [group, newer] of [
      ['prog_types', 'netfilter'],
      ['map_types', 'arena'],
      ['attach_types', 'tcx_ingress'],
      ['link_types', 'tcx'],
      // bpftool 7.1's helpers are 6.1's enum bpf_func_id: on 6.1 the kernel has no newer one
      // (bee-ts lists exactly bpftool's), from 6.2 on its first is bpf_cgrp_storage_get.
      ['helpers', atLeast62 ? 'bpf_cgrp_storage_get' : undefined],
    ] as const) {
      const theirs = bpftool('feature', 'list_builtins', group).split('\n').filter(Boolean);
      const ours = bee('feature', 'list_builtins', group).split('\n').filter(Boolean);
      expect(theirs.length, group).toBeGreaterThan(9);
      expect(ours.slice(0, theirs.length), group).toEqual(theirs);
      if (newer) expect(ours.slice(theirs.length), group).toContain(newer);
      else expect(ours.slice(theirs.length), group).toEqual([]);
      expect(JSON.parse(bee('-j', 'feature', 'list_builtins', group))).toEqual(ours);
      // -p: bpftool's pretty array (the elements on one line, the bracket closing on the next).
      const pretty = bee('feature', 'list_builtins', group, '-p');
      expect(pretty).toBe(`${JSON.stringify(ours)}`.replace(/\]$/, '\n]') + '\n');
      expect(bpftool('-p', 'feature', 'list_builtins', group)).toBe(`${JSON.stringify(theirs)}`.replace(/\]$/, '\n]') + '\n');
    }
    expect(bee('f', 'li', 'l')).toBe(bee('feature', 'list_builtins', 'link_types'));
  });

  it("refuses a group bpftool refuses, with bpftool's message (exit 2)", () => {
    const r = runCli(['feature', 'list_builtins', 'progs']);
    expect(r.status).toBe(2);
    let peer = '';
    try {
      bpftool('feature', 'list_builtins', 'progs');
    } catch (e) {
      peer = String((e as { stderr: string }).stderr).split('\n')[0]!;
    }
    expect(r.stderr.split('\n')[0]).toBe(peer);
    expect(runCli(['feature', 'list_builtins']).status).toBe(2);
  });
});
