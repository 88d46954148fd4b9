// `bee-ts build`: what it compiles cannot be chosen by another local user (no shared predictable
// paths), and what it puts on the compiler's command line.
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
