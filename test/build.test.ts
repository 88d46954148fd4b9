// `bee-ts build`: what it compiles cannot be chosen by another local user (no shared predictable
// paths), and what it puts on the compiler's command line.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { vmlinuxHeader } from '../src/cli/build.js';
import { hasCommand, isRoot, need, root, runCli } from './helpers.js';

const skip = need(hasCommand('clang-16'), 'clang-16 is not installed') ?? need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'this kernel has no BTF') ?? need(isRoot, 'planting files as another user needs root');
const work = fs.mkdtempSync(path.join(os.tmpdir(), `bee-build-${process.pid}-`));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const NOBODY = 65534;

/** A shared, sticky, world-writable temp dir like /tmp. */
function sharedTmp(name: string): string {
  const d = path.join(work, name);
  fs.mkdirSync(d);
  fs.chmodSync(d, 0o1777);
  return d;
}

describe.skipIf(skip)('build: another user cannot influence what is compiled', () => {
  it('a planted cache dir, header and symlink in $TMPDIR change nothing, and nothing is left behind', () => {
    const src = path.join(root, 'examples', 'opensnoop.c');
    const clean = sharedTmp('clean');
    const ref = path.join(work, 'ref.o');
    const r0 = runCli(['build', src, '-o', ref], { env: { TMPDIR: clean } });
    expect(r0.stderr).toContain('Successfully compiled');
    expect(fs.readdirSync(clean)).toEqual([]);

    // Another user prepares every path the old builder used (and some it might use).
    const evil = sharedTmp('evil');
    const victim = path.join(work, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    const planted = [...new Set([`bee-ts-vmlinux-${os.release()}-0`, `bee-ts-vmlinux-${os.release()}-${process.getuid!()}`, 'bee-ts-build-', 'bee-ts'])];
    for (const d of planted) {
      const dir = path.join(evil, d);
      fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
      fs.writeFileSync(path.join(dir, 'vmlinux.h'), '#error planted header was compiled\n');
      fs.symlinkSync(victim, path.join(dir, 'vmlinux.h.tmp'));
      fs.lchownSync(path.join(dir, 'vmlinux.h.tmp'), NOBODY, NOBODY);
      fs.chownSync(path.join(dir, 'vmlinux.h'), NOBODY, NOBODY);
      fs.chownSync(dir, NOBODY, NOBODY);
      fs.chmodSync(dir, 0o777);
    }
    fs.writeFileSync(path.join(evil, 'vmlinux.h'), '#error planted header was compiled\n');
    fs.chownSync(path.join(evil, 'vmlinux.h'), NOBODY, NOBODY);
    const before = fs.readdirSync(evil).sort();

    const out = path.join(work, 'evil.o');
    const r = runCli(['build', src, '-o', out], { env: { TMPDIR: evil } });
    expect(r.stderr).not.toContain('planted');
    expect(r.status).toBe(0);
    expect(sha(out)).toBe(sha(ref));
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.readdirSync(evil).sort()).toEqual(before);
    for (const d of planted) expect(fs.readFileSync(path.join(evil, d, 'vmlinux.h'), 'utf8')).toContain('planted');
  });

  it('the generated header lives in a fresh 0700 directory of this user, as a 0600 file', () => {
    const dir = vmlinuxHeader();
    try {
      const st = fs.lstatSync(dir);
      expect(st.isDirectory()).toBe(true);
      expect(st.mode & 0o777).toBe(0o700);
      expect(st.uid).toBe(process.getuid!());
      const f = fs.lstatSync(path.join(dir, 'vmlinux.h'));
      expect(f.isFile()).toBe(true);
      expect(f.mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(dir, 'vmlinux.h'), 'utf8')).toContain('struct task_struct {');
      const again = vmlinuxHeader();
      expect(again).not.toBe(dir);
      fs.rmSync(again, { recursive: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skip)('build: libbpf-style and bee-style probes compile unchanged', () => {
  it('BPF_ANY, false, TCP_SYN_SENT, BPF_F_CURRENT_CPU, a kfunc, <linux/errno.h>, bpf/ headers from bee-ts (not libbpf-dev)', () => {
    const src = path.join(work, 'libbpf_style.c');
    fs.writeFileSync(
      src,
      `#include "vmlinux.h"
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
char LICENSE[] SEC("license") = "GPL";
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, u32); __type(value, u32); } states SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	bool seen = false;
	u32 key = TCP_SYN_SENT, val = bpf_ntohs(80);
	struct task_struct *t = bpf_task_from_pid(BPF_CORE_READ(next, tgid));
	if (t) {
		seen = bpf_core_field_exists(struct task_struct, pid);
		bpf_task_release(t);
	}
	if (bpf_map_update_elem(&states, &key, &val, BPF_NOEXIST) == -EEXIST)
		bpf_map_update_elem(&states, &key, &val, BPF_ANY);
	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &val, sizeof(val));
	return seen;
}
`,
    );
    const out = path.join(work, 'libbpf_style.o');
    const r = runCli(['build', src, '-o', out, '--cflags', '-H']);
    expect(r.stderr).toContain('Successfully compiled');
    // -H lists every header clang opened: bee-ts's bpf/ headers, never a system libbpf-dev's.
    const headers = r.stderr.split('\n').filter((l) => /^\.+ /.test(l)).map((l) => l.replace(/^\.+ /, ''));
    expect(headers.some((h) => h.endsWith(path.join('include', 'bpf', 'bpf_helpers.h')) && h.startsWith(root))).toBe(true);
    expect(headers.filter((h) => h.startsWith('/usr/include/bpf/'))).toEqual([]);
    expect(headers.some((h) => h.endsWith('asm/errno.h'))).toBe(true);
    const d = JSON.parse(runCli(['describe', '--json', out]).stdout);
    expect(JSON.stringify(d)).toContain('bpf_task_from_pid');
  });

  it('a bee probe calling memcpy/memset without declaring them builds (clang 16 rejects that alone), and warnings are printed', () => {
    const src = path.join(work, 'bee_style.c');
    fs.writeFileSync(
      src,
      `#include "vmlinux.h"
#include "bpf_helpers.h"
char LICENSE[] SEC("license") = "Dual MIT/GPL";
struct event { char comm[16]; u32 pid; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 12); __type(value, struct event); } events SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_openat")
int on_open(void *ctx)
{
	int unused_var;
	struct event e;
	memset(&e, 0, sizeof(e));
	char name[16] = "bee";
	memcpy(e.comm, name, sizeof(e.comm));
	if (memcmp(e.comm, name, 4) == 0)
		bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}
`,
    );
    const bare = spawnSync('clang-16', ['-target', 'bpf', '-O2', '-c', '-x', 'c', '-', '-o', '/dev/null'], { input: 'int f(char *d, char *s) { memcpy(d, s, 8); return 0; }', encoding: 'utf8' });
    expect(bare.stderr).toMatch(/call to undeclared library function 'memcpy'/);
    const out = path.join(work, 'bee_style.o');
    const r = runCli(['build', src, '-o', out]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: unused variable 'unused_var'/);
    expect(r.stderr).toContain('Successfully compiled');
  });
});
