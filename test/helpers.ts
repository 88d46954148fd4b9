// Test helpers: fixture paths and the skip policy (a skipped kernel/tool test is a failure under CI=true).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fixture = (name: string) => path.join(root, 'test', 'fixtures', name);
export const readFixture = (name: string) => fs.readFileSync(fixture(name));
export const CI = process.env.CI === 'true';

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Returns a reason to skip, or undefined when the requirement holds. Under CI=true a missing
 * requirement throws instead, so CI can never pass by skipping.
 */
export function need(ok: boolean, reason: string): string | undefined {
  if (ok) return undefined;
  if (CI) throw new Error(`required under CI=true: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

export const isRoot = process.getuid?.() === 0;

export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
}

export const cli = path.join(root, 'dist', 'cli', 'main.js');

/** Run the built CLI; returns status, stdout and stderr (never throws). */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...opts.env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const ALL_OBJECTS = fs
  .readdirSync(path.join(root, 'test', 'fixtures'))
  .filter((f) => f.endsWith('.o'))
  .sort();

/** Kernel tests: root and a working bpf(2); otherwise a reason to skip (a failure under CI=true). */
export function needKernel(): string | undefined {
  return need(isRoot, 'kernel tests need root (run with sudo)');
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** The ids of every program, map, link and BTF object in the kernel (for leak checks). */
export function bpftoolIds(kind: 'prog' | 'map' | 'link' | 'btf'): number[] {
  const out = execFileSync('bpftool', ['-j', kind, 'list'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return (JSON.parse(out || '[]') as { id: number }[]).map((x) => x.id);
}
