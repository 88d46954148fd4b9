// One error taxonomy: every error class in src/ extends BeeTsError (a stable `code`, the standard
// `cause`), and every one the library's public methods can throw is exported from src/index.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { AttachError, attachProgram } from '../src/link/attach.js';
import type { AttachableProgram } from '../src/link/kinds.js';
import { uprobeMultiHook } from '../src/link/uprobe-multi.js';
import { type SyscallBackend, useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { Fd } from '../src/syscall/fd.js';
import { AttachType, ProgType } from '../src/syscall/constants.js';
import { BeeTsError, NotSupportedError } from '../src/errors.js';
import { root } from './helpers.js';
import { thrown } from './helpers.js';

const SRC = path.join(root, 'src');
function classes(): { file: string; name: string }[] {
  const out: { file: string; name: string }[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/^export class (\w+) extends (\w+)/gm)) if (/Error$|Exit$/.test(m[1]!) || /Error$/.test(m[2]!)) out.push({ file: path.relative(root, p), name: m[1]! });
    }
  };
  walk(SRC);
  return out;
}

/** Errors of the CLI and the BumbleBee layer (src/cli, src/bee): not reachable through src/index.ts. */
const cliOnly = (file: string) => file.startsWith('src/cli/') || file.startsWith('src/bee/');

describe('errors', () => {
  const found = classes();

  it('finds the error classes (self-check)', () => {
    expect(found.length).toBeGreaterThan(20);
  });

  it('every error class extends BeeTsError', async () => {
    for (const { file, name } of found) {
      const mod = await import(path.join(root, file));
      const C = mod[name] as { prototype: unknown; name: string };
      if (C === BeeTsError) continue;
      expect(C.prototype instanceof BeeTsError, `${file}: ${name} extends BeeTsError`).toBe(true);
    }
  });

  it('every error the library can throw is exported from src/index.ts', () => {
    const missing = found.filter((c) => !cliOnly(c.file) && !(c.name in api)).map((c) => `${c.file}: ${c.name}`);
    expect(missing).toEqual([]);
    expect(api.BeeTsError).toBe(BeeTsError);
  });

  it('nothing in src/ throws (or rejects with) a plain Error: each is a BeeTsError subclass with a stable code', () => {
    // The fake backend's own invariants (fake.ts and its memory, fake-memory.ts: a bad pointer,
    // which with the native backend would be a crash, not an error bee-ts reports; a test's misuse
    // of the fake producers) are the only plain Errors, and only in tests' hands.
    const allowed = new Set(['src/syscall/fake.ts', 'src/syscall/fake-memory.ts']);
    const plain: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !allowed.has(path.relative(root, p)))
          fs.readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/\bnew (Error|TypeError|RangeError)\(|\bthrow (Error|TypeError|RangeError)\(/.test(line)) plain.push(`${path.relative(root, p)}:${i + 1}: ${line.trim()}`);
            });
      }
    };
    walk(SRC);
    expect(plain).toEqual([]);
  });

  it('code, name and cause', () => {
    const inner = new Error('inner');
    const e = new api.SpecError('x.o', 'map m', 'bad', { cause: inner });
    expect(e).toBeInstanceOf(BeeTsError);
    expect(e).toMatchObject({ code: 'SPEC_INVALID', name: 'SpecError', cause: inner, message: 'x.o: map m: bad' });
    const b = new api.BpfError('BPF_MAP_CREATE', 1);
    expect(b).toMatchObject({ code: 'EPERM', name: 'BpfError', errno: 1 });
    expect(new api.ElfError('f', 'd').code).toBe('ELF_MALFORMED');
    const v = new api.VerifierError(13, 'p', 'log', undefined, undefined, undefined, false);
    expect(v).toBeInstanceOf(api.BpfError);
    expect(v.code).toBe('EACCES');
  });

  it('a not-supported error names the feature and the minimum kernel, and keeps the kernel error as cause', () => {
    // uprobe.multi on a kernel that answers EINVAL (before 6.6), through the syscall seam.
    const fake = new FakeBackend();
    const real = fake.bpf.bind(fake);
    fake.bpf = (cmd, attr, size) => (cmd === 28 /* LINK_CREATE */ ? -22 : real(cmd, attr, size));
    const restore = useBackend(fake as unknown as SyscallBackend);
    try {
      const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib/libc.so.6'].find((p) => fs.existsSync(p))!;
      const prog: AttachableProgram = {
        name: 'p',
        section: 'uprobe.multi',
        fd: new Fd(200, 'prog'),
        type: ProgType.KPROBE,
        expectedAttachType: AttachType.TRACE_UPROBE_MULTI,
        hook: uprobeMultiHook,
        spec: { attachTarget: `${libc}:getpid`, progType: ProgType.KPROBE },
        object: { map: () => ({ maxEntries: 0, updateRaw: () => {} }) },
      };
      const err = thrown(() => attachProgram(prog));
      expect(err).toBeInstanceOf(NotSupportedError);
      expect(err).not.toBeInstanceOf(AttachError);
      expect(err).toMatchObject({ code: 'NOT_SUPPORTED', feature: 'uprobe.multi links', minKernel: '6.6' });
      expect((err as Error).message).toMatch(/^uprobe\.multi links needs Linux 6\.6 or later \(this is .+\): program 'p': /);
      expect((err as Error).cause).toBeInstanceOf(api.BpfError);
      expect(((err as Error).cause as api.BpfError).code).toBe('EINVAL');
      prog.fd.close();
    } finally {
      restore();
    }
  });
});
