// bee's image commands: the local OCI store (build REF, list, describe, tag) and a registry
// (push, pull, login), plus `run REF`'s lookup. Same image format and default store as bee.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostPlatform, packImage, parseRef } from '../bee/image.js';
import { defaultConfigFiles, DEFAULT_CONFIG_DIR, type RegistryOptions, RegistryClient, saveCredentials } from '../bee/registry.js';
import { DEFAULT_STORE, ImageStore } from '../bee/store.js';
import { UsageError } from './errors.js';
import { isProbeFile, isProbeSource } from './probe-arg.js';
import { readInputFile } from '../syscall/files.js';

/** Global flags shared by the image commands (bee's names). */
export interface ImageFlags {
  storage?: string;
  configDir?: string;
  config?: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  plainHttp?: boolean;
}

export function storeOf(f: ImageFlags): ImageStore {
  return new ImageStore(f.storage ?? DEFAULT_STORE);
}

export function registryOptions(f: ImageFlags): RegistryOptions {
  if (f.password !== undefined && f.username === undefined) throw new UsageError('-p/--password needs -u/--username');
  return {
    username: f.username,
    password: f.password,
    insecure: f.insecure,
    plainHttp: f.plainHttp,
    configFiles: f.config ? [f.config] : defaultConfigFiles(f.configDir ?? DEFAULT_CONFIG_DIR),
  };
}

function uname(): { release: string; machine: string } {
  return { release: os.release(), machine: os.machine?.() ?? process.arch };
}

/** `build <probe.c> REF`: store the compiled object as an image named REF. */
export function saveBuild(objectFile: string, ref: string, f: ImageFlags & { description?: string; authors?: string }): string {
  const r = parseRef(ref);
  const u = uname();
  const img = packImage({ program: readInputFile(objectFile, 'object file'), description: f.description, authors: f.authors });
  storeOf(f).save(r.name, img, hostPlatform(u.release, u.machine));
  return r.name;
}

export function listImages(f: ImageFlags): string {
  const rows = storeOf(f)
    .list()
    .map((i) => [i.ref, i.descriptor.platform?.os ?? 'unknown', i.descriptor.platform?.['os.version'] ?? 'unknown', i.descriptor.platform?.architecture ?? 'unknown']);
  const head = ['Name', 'OS', 'OS Version', 'Arch'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((x, c) => x.padEnd(widths[c]!)).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map(line)].join('\n') + '\n';
}

/** The store's name for `ref` when the store has it (describe's choice between a file and an image). */
export function storedRef(ref: string, f: ImageFlags): string | undefined {
  try {
    const r = parseRef(ref);
    return storeOf(f).resolve(r.name) ? r.name : undefined;
  } catch {
    return undefined;
  }
}

export function describeImage(ref: string, f: ImageFlags): string {
  const r = parseRef(ref);
  const store = storeOf(f);
  const pkg = store.load(r.name);
  const p = pkg.platform;
  const rows: [string, string][] = [
    ['Image', r.name],
    ['Description', pkg.description || 'No description found'],
    ['Authors', pkg.authors || 'No Authors found'],
    ['Platform', p ? `${p.os}${p['os.version'] ? ` ${p['os.version']}` : ''} ${p.architecture}` : 'unknown'],
    ['Program', `${pkg.program.length} bytes`],
  ];
  const kw = Math.max(...rows.map(([k]) => k.length));
  const vw = Math.max(...rows.map(([, v]) => v.length));
  const bar = `+${'-'.repeat(kw + 2)}+${'-'.repeat(vw + 2)}+`;
  return [bar, ...rows.map(([k, v]) => `| ${k.padEnd(kw)} | ${v.padEnd(vw)} |`), bar].join('\n') + '\n';
}

export function tagImage(src: string, dst: string, f: ImageFlags): string {
  const s = parseRef(src);
  const d = parseRef(dst);
  storeOf(f).tag(s.name, d.name);
  return d.name;
}

export async function pushImage(ref: string, f: ImageFlags): Promise<string> {
  const r = parseRef(ref);
  const client = new RegistryClient(r, registryOptions(f));
  const res = await client.push(storeOf(f)).finally(() => client.close());
  return `Successfully pushed ${r.name} (${res.digest}, ${res.uploaded} blob${res.uploaded === 1 ? '' : 's'} uploaded)\n`;
}

export async function pullImage(ref: string, f: ImageFlags): Promise<string> {
  const r = parseRef(ref);
  const client = new RegistryClient(r, registryOptions(f));
  const desc = await client.pull(storeOf(f)).finally(() => client.close());
  return `Successfully pulled ${r.name} (${desc.digest})\n`;
}

/**
 * An argument that is not an existing file and reads as an image reference rather than a
 * mistyped object path: no .o/.c suffix, and a registry host or repository path in it.
 */
export function looksLikeImageRef(arg: string): boolean {
  // A path (./x, ../x, /x, ~/x) is always a file, never a registry host.
  if (/^(\.{1,2}\/|\/|~)/.test(arg)) return false;
  return !fs.existsSync(arg) && !arg.endsWith('.o') && !arg.endsWith('.c') && (arg.includes('/') || arg.includes(':'));
}

/**
 * What `run` runs: a file when the path exists; otherwise an image reference, from the local store
 * when it is there, else pulled into it first (bee's order).
 */
export async function resolveProbe(arg: string, f: ImageFlags, log: (s: string) => void): Promise<{ file: string; program?: Uint8Array }> {
  if (isProbeSource(arg))
    throw new UsageError(`${arg}: is C source; bee-ts runs compiled probes: compile it first with \`bee-ts build ${arg}\`, then \`bee-ts run ${arg.replace(/\.[ch]$/, '.o')}\``);
  if (isProbeFile(arg)) return { file: arg };
  if (!looksLikeImageRef(arg))
    throw new UsageError(`${arg}: no such file (bee-ts runs compiled probes: build one with \`bee-ts build probe.c\`, or give an image reference like ghcr.io/org/probe:tag)`);
  let r;
  try {
    r = parseRef(arg);
  } catch {
    throw new UsageError(`${arg}: no such file, and not an image reference (bee-ts runs compiled probes: build one with \`bee-ts build probe.c\`)`);
  }
  const store = storeOf(f);
  if (!store.resolve(r.name)) {
    log(`bee-ts: ${r.name} is not in ${store.dir}; pulling it`);
    const client = new RegistryClient(r, registryOptions(f));
    await client.pull(store).finally(() => client.close());
  }
  return { file: r.name, program: store.load(r.name).program };
}

export async function login(server: string, f: ImageFlags & { passwordStdin?: boolean }, prompt: (q: string, hidden: boolean) => Promise<string>): Promise<string> {
  let username = f.username;
  let password = f.password;
  if (password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (f.passwordStdin) {
    if (password !== undefined) throw new UsageError('--password and --password-stdin are mutually exclusive');
    password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  }
  if (username === undefined && password === undefined) username = await prompt('Username: ', false);
  if (password === undefined) password = await prompt(username ? 'Password: ' : 'Token: ', true);
  const host = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const client = new RegistryClient(parseRef(`${host}/login-check`), registryOptions({ ...f, username: username ?? '', password }));
  await client.ping().finally(() => client.close());
  const file = f.config ?? path.join(f.configDir ?? DEFAULT_CONFIG_DIR, 'config.json');
  saveCredentials(file, host, username ?? '', password);
  return 'Login Succeeded\n';
}
