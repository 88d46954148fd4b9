// The C builds tests run at test time (clang-16 for BPF objects, gcc for peers and test
// programs) go through `cachedBuild`: a content-addressed cache in a private root-only directory,
// keyed by the tool's `--version`, the arguments and the bytes of every file the arguments name,
// and checked on every use against the bytes of every file the compiler read (its -MD list).
//
// Why: under QEMU's TCG (`npm run test:vm`) one clang or gcc run takes minutes of CPU.
// scripts/vm-test.mjs runs test/vm-prebuild.ts on the host before it boots (the same builders,
// the same calls), so the cache holds every build the VM files need; the VM sees the host's / over
// 9p read-only and only reads it, after checking the key and every recorded input again. A build
// with no (or a stale) entry in the VM fails under CI=true instead of compiling for an hour
// under emulation; elsewhere in the VM it is built into a private temp dir, with a warning.
//
// Layout: <CACHE>/build/<key>/ holds the build's working directory as the compiler left it (the
// generated inputs, the outputs) and manifest.json: the key, the outputs, and the sha256 of every
// file outside that directory that the compiler read. Entries are built in a fresh private temp
// dir beside them and renamed into place, so a half-written entry never looks complete.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The cache root: $BEE_TS_CACHE, else /var/cache/bee-ts for root (where the VM finds it over 9p). */
export const CACHE = process.env.BEE_TS_CACHE ?? (process.getuid?.() === 0 ? '/var/cache/bee-ts' : path.join(os.homedir(), '.cache', 'bee-ts'));
const inVm = () => process.env.BEE_IN_VM === '1';

/**
 * A private directory of ours (0700-style: no group/other write, owned by this uid, not a
 * symlink): created when missing (not in the VM, where the host's tree is read-only), refused
 * otherwise. Returns it, or undefined in the VM when the host never made it.
 */
export function privateDir(dir: string): string | undefined {
  if (!inVm()) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if (inVm() && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) throw new Error(`${dir}: not a private (0700) directory owned by us; remove it or set BEE_TS_CACHE`);
  return dir;
}

export interface BuildStep {
  /** What is built, for messages. */
  what: string;
  tool: 'clang-16' | 'gcc';
  /**
   * The arguments. The build runs in its own directory: relative paths (outputs, generated
   * inputs) are inside it; sources and include directories elsewhere are absolute.
   */
  args: readonly string[];
  /** Generated inputs, written into the build directory first (their bytes are part of the key). */
  files?: Readonly<Record<string, string | Uint8Array>>;
  /** The files the build writes (relative to its directory). */
  outputs: readonly string[];
}

export interface Built {
  /** The build's directory: `path.join(dir, output)` is each output (read-only in the VM). */
  dir: string;
  /** How it was obtained: built now, or found in the cache. */
  from: 'built' | 'cache';
}

interface Manifest {
  key: string;
  outputs: string[];
  /** Files outside the build dir the compiler read (its -MD list): path → sha256. */
  inputs: Record<string, string>;
}

const versions = new Map<string, string>();
/** The tool's `--version` text (once per process: one clang start-up is seconds under TCG). */
function toolVersion(tool: string): string {
  let v = versions.get(tool);
  if (v === undefined) versions.set(tool, (v = execFileSync(tool, ['--version'], { encoding: 'utf8' })));
  return v;
}

const sha = (b: string | Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const fileHashes = new Map<string, { stamp: string; hash: string | null }>();
/** sha256 of a file's bytes, null when it is missing or not a regular file (re-read when its size, mtime or inode changes). */
function fileHash(p: string): string | null {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(p, { bigint: true });
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  const seen = fileHashes.get(p);
  if (seen?.stamp === stamp) return seen.hash;
  const hash = sha(fs.readFileSync(p));
  fileHashes.set(p, { stamp, hash });
  return hash;
}

/** The key: tool version, arguments, generated inputs' bytes, and the bytes of every absolute file the arguments name. */
export function buildKey(step: BuildStep): string {
  const named: [string, string][] = [];
  for (const a of step.args) for (const p of [a, a.replace(/^-[IL]/, '')]) if (path.isAbsolute(p) && fileHash(p)) named.push([p, fileHash(p)!]);
  const files = Object.entries(step.files ?? {}).map(([n, b]) => [n, sha(b)]).sort((x, y) => x[0]!.localeCompare(y[0]!));
  return sha(JSON.stringify({ v: 1, tool: step.tool, version: toolVersion(step.tool), args: step.args, files, named })).slice(0, 32);
}

/** The files a make-style dependency file lists (after the target), unescaped. */
export function parseDeps(text: string): string[] {
  const body = text.replace(/\\\n/g, ' ');
  const colon = body.search(/:(\s|$)/);
  const deps: string[] = [];
  for (const m of body.slice(colon + 1).matchAll(/(?:\\ |[^\s])+/g)) deps.push(m[0].replace(/\\ /g, ' '));
  return deps;
}

/** The entry at `dir` is usable for `key`: its manifest names that key, its outputs exist, and every recorded input still has its bytes. */
function check(dir: string, key: string): string | undefined {
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return 'no manifest';
  }
  if (m.key !== key) return `manifest key ${m.key} is not ${key}`;
  for (const o of m.outputs) if (!fs.existsSync(path.join(dir, o))) return `output ${o} missing`;
  for (const [p, h] of Object.entries(m.inputs)) if (fileHash(p) !== h) return `input ${p} changed since the build`;
  return undefined;
}

/** Run the step in `dir` (which holds its generated inputs) and write its manifest there. */
function runStep(step: BuildStep, dir: string, key: string): void {
  for (const [n, b] of Object.entries(step.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, n)), { recursive: true });
    fs.writeFileSync(path.join(dir, n), b, { flag: 'wx' });
  }
  try {
    execFileSync(step.tool, [...step.args, '-MD', '-MF', '.deps'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${step.what}: ${step.tool} failed: ${err.stderr || err.message}`);
  }
  const inputs: Record<string, string> = {};
  for (const d of parseDeps(fs.readFileSync(path.join(dir, '.deps'), 'utf8'))) {
    // Relative: inside the build dir (generated inputs, already in the key).
    if (!path.isAbsolute(d)) continue;
    const h = fileHash(path.resolve(d));
    if (!h) throw new Error(`${step.what}: ${step.tool} read ${d}, which is not a file now`);
    inputs[path.resolve(d)] = h;
  }
  for (const o of step.outputs) if (!fs.existsSync(path.join(dir, o))) throw new Error(`${step.what}: ${step.tool} wrote no ${o}`);
  const m: Manifest = { key, outputs: [...step.outputs], inputs };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m, null, 1), { flag: 'wx' });
}

/**
 * Build `step`, or find it built: on the host, in <CACHE>/build (built there when missing or
 * stale); in the VM, only read from there. See the file comment.
 */
export function cachedBuild(step: BuildStep, cache = CACHE): Built {
  const key = buildKey(step);
  const base = privateDir(path.join(cache, 'build'));
  const entry = base && path.join(base, key);
  const why = entry ? check(entry, key) : `no ${path.join(cache, 'build')} (the host made no cache)`;
  if (entry && why === undefined) return { dir: entry, from: 'cache' };
  if (inVm()) {
    const msg = `${step.what}: no usable prebuilt ${step.tool} build ${key} in ${path.join(cache, 'build')} (${why}). scripts/vm-test.mjs builds it on the host before the boot when test/vm-prebuild.ts asks for it`;
    if (process.env.CI === 'true') throw new Error(`${msg}; under CI=true the VM does not compile under TCG`);
    console.warn(`${msg}: building it here, under emulation`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-build-'));
    runStep(step, dir, key);
    return { dir, from: 'built' };
  }
  const tmp = fs.mkdtempSync(path.join(base!, 'tmp-'));
  try {
    runStep(step, tmp, key);
    // A stale entry (an input changed) is moved aside first: rename cannot replace a directory.
    if (fs.existsSync(entry!)) {
      const old = fs.mkdtempSync(path.join(base!, 'old-'));
      fs.renameSync(entry!, path.join(old, 'x'));
      fs.rmSync(old, { recursive: true, force: true });
    }
    fs.renameSync(tmp, entry!);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another process put a complete entry there meanwhile: use it.
    if (check(entry!, key) === undefined) return { dir: entry!, from: 'cache' };
    throw e;
  }
  return { dir: entry!, from: 'built' };
}
