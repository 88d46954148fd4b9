// Test helpers: fixture paths and the skip policy (a skipped kernel/tool test is a failure under CI=true).
import { execFileSync, spawnSync } from 'node:child_process';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { vmlinuxBtf } from '../src/loader/btf-files.js';
import { parseObject } from '../src/loader/spec.js';
import { cachedBuild } from './build-cache.js';

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

/**
 * What `import 'bee-ts'` loads (package.json "exports"): dist/lib/index.js, the library bundled
 * into one file with its code cache (scripts/bundle-cli.mjs); dist/index.js is tsc's unbundled entry.
 */
export const libEntry = path.join(root, 'dist', 'lib', 'index.js');

/** The `bee-ts` bin (package.json "bin"): dist/cli/main.cjs; `node dist/cli/main.js` runs the same. */
export const cli = path.join(root, 'dist', 'cli', 'main.cjs');

/**
 * How long a child Node process a test starts may take: `hostMs` on the host; in the VMs (QEMU's
 * TCG, `npm run test:vm`) a Node start-up alone is 10-60 s of CPU, more on a loaded host (a CI run
 * measured a child that loads one object go past 20 s), so there the bound is 300 s.
 */
export const childBound = (hostMs: number): number => (process.env.BEE_IN_VM === '1' ? Math.max(hostMs, 300_000) : hostMs);

/** What a CLI run gave: its exit status (null: killed at its bound), stdout and stderr. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Whether runCli runs the CLI in this process (a worker thread, see cliInProcess) instead of
 * starting the built CLI: in the VMs (a Node start-up is 10-60 s of CPU under TCG) or when
 * BEE_TS_CLI_INPROC=1 asks for it (to check the in-process path on the host). The host's default
 * run keeps starting the real process.
 */
export const CLI_IN_PROCESS = process.env.BEE_IN_VM === '1' || process.env.BEE_TS_CLI_INPROC === '1';

/**
 * Commands that own their process, which runCli always starts as one: `run` (signal handlers,
 * process.exit, a metrics server), `feature` (its unprivileged probe re-runs process.argv[1]),
 * `bench`, and the streams stopped by a signal (prog profile, prog tracelog, map event_pipe).
 */
function ownsProcess(args: readonly string[]): boolean {
  const words = args.filter((a) => !a.startsWith('-'));
  return ['run', 'feature', 'bench'].includes(words[0] ?? '') || words.some((w) => ['profile', 'tracelog', 'event_pipe'].includes(w));
}

/**
 * Run the built CLI; returns status, stdout and stderr (never throws). With `input` (stdin), or
 * for a command that owns its process, it is always a child process; otherwise in the VMs it runs
 * in-process (CLI_IN_PROCESS).
 */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  if (CLI_IN_PROCESS && opts.input === undefined && !ownsProcess(args)) return cliInProcess(args, opts.env);
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, input: opts.input, env: { ...process.env, ...opts.env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The in-process CLI: one worker thread that imports dist/cli/program.js once and runs each
 * command line through runCommandLine (what dist/cli/main.js runs for the process's argv), its
 * stdout and stderr writes collected and decoded as spawnSync's utf8 decodes them, `env` set for
 * the command and restored after it. The caller waits on a shared word (Atomics.wait), so
 * runCli stays synchronous; an error nobody caught ends the command as main.js's handler does
 * (`Error: ...`, exit 1). What differs from a process: the pid (this one's), no stdin, signals
 * (a worker gets none), and state a process would lose at exit that a later command sees
 * (module caches such as the vmlinux BTF; bpftool's global flags are reset per command).
 */
export function cliInProcess(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  inproc ??= startCliWorker();
  const { flag, port } = inproc;
  Atomics.store(flag, 0, 0);
  port.postMessage({ args, env });
  if (Atomics.wait(flag, 0, 0, childBound(300_000)) === 'timed-out') {
    void inproc.worker.terminate();
    inproc = undefined;
    return { status: null, stdout: '', stderr: `in-process CLI: no result within ${childBound(300_000) / 1000} s\n` };
  }
  const m = receiveMessageOnPort(port);
  if (!m) throw new Error('in-process CLI: the worker signalled a result it did not send');
  const { exited, ...result } = m.message as CliResult & { exited: boolean };
  if (exited) inproc = undefined;
  return result;
}

let inproc: { worker: Worker; port: MessagePort; flag: Int32Array } | undefined;

function startCliWorker(): NonNullable<typeof inproc> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const program = pathToFileURL(path.join(root, 'dist', 'cli', 'program.js')).href;
  const worker = new Worker(CLI_WORKER, { eval: true, workerData: { flag, port: port2, program }, transferList: [port2] });
  // It never keeps the test process alive.
  worker.unref();
  port1.unref();
  return { worker, port: port1, flag };
}

const CLI_WORKER = `
const { workerData } = require('node:worker_threads');
const { flag, port, program } = workerData;
let current;
const finish = (status) => {
  const c = current;
  current = undefined;
  if (!c) return;
  process.stdout.write = c.write[0];
  process.stderr.write = c.write[1];
  for (const [k, v] of Object.entries(c.saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  port.postMessage({ status, stdout: Buffer.concat(c.out).toString('utf8'), stderr: Buffer.concat(c.err).toString('utf8'), exited: !!c.exited });
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
};
const fatal = (e) => {
  if (current) current.err.push(Buffer.from('Error: ' + (e instanceof Error ? e.message : String(e)) + '\\n'));
  finish(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// process.exit() in a worker ends the thread: the result goes out first, and the caller starts a new worker.
process.on('exit', (code) => {
  if (current) current.exited = true;
  finish(code);
});
const collect = (parts) => (chunk, enc, cb) => {
  parts.push(typeof chunk === 'string' ? Buffer.from(chunk, typeof enc === 'string' ? enc : 'utf8') : Buffer.from(chunk));
  const done = typeof enc === 'function' ? enc : cb;
  if (typeof done === 'function') process.nextTick(done);
  return true;
};
let mod;
port.on('message', async ({ args, env }) => {
  const saved = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
  current = { out: [], err: [], saved, write: [process.stdout.write, process.stderr.write] };
  process.stdout.write = collect(current.out);
  process.stderr.write = collect(current.err);
  try {
    mod ??= await import(program);
    finish(await mod.runCommandLine(args));
  } catch (e) {
    fatal(e);
  }
});
`;

export const ALL_OBJECTS = fs
  .readdirSync(path.join(root, 'test', 'fixtures'))
  .filter((f) => f.endsWith('.o'))
  .sort();

/** The running kernel's version as [major, minor] (from uname -r: `6.18.0-1-amd64` → [6, 18]). */
export function kernelVersion(release = os.release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new Error(`cannot read a kernel version from '${release}'`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Kernel tests: root and a working bpf(2), and (when given) at least Linux `version` for
 * `feature`. Every kernel test that needs a feature newer than the oldest kernel bee-ts supports
 * declares it here: `it.skipIf(needKernel('6.6', 'uprobe.multi links', linkFeatures.uprobeMulti))(...)`.
 *
 * Below `version` the test is skipped with the reason, also under CI=true: the kernel matrix
 * (this host, and the Debian 6.1 and 6.12 VMs of `npm run test:vm`) runs it on the kernels that
 * have the feature. `probe`, the feature's own probe, keeps that skip honest: when it says a
 * kernel below `version` has the feature after all (a backport, or a wrong version here), this
 * throws, so the test fails until its declaration is right. Not root is a failure under CI=true.
 */
export function needKernel(version?: string, feature?: string, probe?: () => boolean): string | undefined {
  const root = need(isRoot, 'kernel tests need root (run with sudo)');
  if (root || !version) return root;
  const [wantMajor, wantMinor] = kernelVersion(version);
  const [major, minor] = kernelVersion();
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return undefined;
  const what = feature ?? 'this test';
  if (probe?.()) throw new Error(`${what}: declared to need Linux ${version}, but its feature probe says this ${os.release()} kernel has it: fix the declared version`);
  const reason = `${what} needs Linux ${version} or later (this is ${os.release()})`;
  console.warn(`skipping: ${reason}`);
  return reason;
}

/**
 * A C program a test builds with gcc (`gcc FLAGS -o OUT SRC LIBS`), at `out`, through the build cache
 * (test/build-cache.ts): in the VMs (`npm run test:vm`) gcc would run under emulation for
 * minutes, so the host builds it before the boot (test/vm-prebuild.ts lists it) and the VM copies
 * that binary out of the cache.
 */
export function gccBuild(src: string, flags: readonly string[], out: string, libs: readonly string[] = []): string {
  const b = cachedBuild({ what: `gcc ${flags.join(' ')} ${path.basename(src)}`, tool: 'gcc', args: [...flags, '-o', 'a.out', src, ...libs], outputs: ['a.out'] });
  fs.copyFileSync(path.join(b.dir, 'a.out'), out);
  fs.chmodSync(out, 0o755);
  return out;
}

/** A feature probe for needKernel: the running kernel's BTF has a function (a kfunc) of this name. */
export function kernelHasFunc(name: string): boolean {
  return (vmlinuxBtf()?.idsByName(name).length ?? 0) > 0;
}

export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

type KernelKind = 'prog' | 'map' | 'link';
const BPF_OBJ_NAME_LEN = 16;

/**
 * The ids of the kernel's programs, maps or links that could be this test's: those named like one
 * of `names` (a program or map name, cut to the kernel's 15 characters; a link by its program's
 * name). The kernel is shared with other processes loading programs while tests run, so a test
 * never compares whole-system listings, only objects it could have created.
 */
export function bpftoolIds(kind: KernelKind, names: readonly string[]): number[] {
  const wanted = new Set(names.map((n) => n.slice(0, BPF_OBJ_NAME_LEN - 1)));
  // bpftool's listing fails now and then when another process's object goes away between its
  // get-next-id and its info call (the kernel is shared): tried up to three times.
  const list = (k: KernelKind) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return JSON.parse(execFileSync('bpftool', ['-j', k, 'list'], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] }) || '[]') as { id: number; name?: string; prog_id?: number }[];
      } catch (e) {
        if (attempt === 3) throw e;
      }
    }
  };
  if (kind === 'link') {
    const progs = new Set(list('prog').filter((p) => p.name !== undefined && wanted.has(p.name)).map((p) => p.id));
    return list('link').filter((l) => l.prog_id !== undefined && progs.has(l.prog_id)).map((l) => l.id);
  }
  return list(kind).filter((x) => x.name !== undefined && wanted.has(x.name)).map((x) => x.id);
}

/** The fdinfo text of each fd process `pid` has open (fds closed meanwhile are skipped). */
export function fdInfos(pid: number | 'self' = 'self'): string[] {
  const infos: string[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      infos.push(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
    } catch {
      /* closed meanwhile */
    }
  }
  return infos;
}

/**
 * The BPF programs, maps and links process `pid` holds open (from /proc/PID/fdinfo). Unlike a
 * name match over the whole kernel, other processes loading the same fixtures cannot show up here.
 */
export function heldIds(pid: number | 'self' = 'self'): Record<KernelKind, number[]> {
  const held: Record<KernelKind, number[]> = { prog: [], map: [], link: [] };
  for (const info of fdInfos(pid)) {
    // A link's fdinfo also names its program (prog_id): take the link's own id only.
    const link = /^link_id:\s*(\d+)/m.exec(info);
    const m = link ? null : /^(prog|map)_id:\s*(\d+)/m.exec(info);
    if (link) held.link.push(Number(link[1]));
    else if (m) held[m[1] as 'prog' | 'map'].push(Number(m[2]));
  }
  for (const k of Object.values(held)) k.sort((a, b) => a - b);
  return held;
}

/** The program and map names an object would create (for `bpftoolIds`). */
export function objectNames(file: string): string[] {
  const spec = parseObject(fs.readFileSync(file), { file });
  return [...spec.programs.map((p) => p.name), ...spec.maps.map((m) => m.name), ...spec.dataSections.map((d) => d.mapName)];
}

/**
 * Polls `cond` (sync or async) every `everyMs` until it returns a truthy value, and returns that
 * value; past `ms` it returns the last (falsy) value, for the caller's assertion to show. Tests
 * wait on conditions with a deadline like this, never on a fixed sleep: a loaded host is slow,
 * a quiet one fast, and both must pass.
 */
export async function waitUntil<T>(cond: () => T | Promise<T>, ms = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  let v = await cond();
  while (!v && Date.now() < end) {
    await new Promise((res) => setTimeout(res, everyMs));
    v = await cond();
  }
  return v;
}

/**
 * A bpftool-style plain listing (`prog list`, `map list`, `link list`) cut to the blocks of `ids`
 * (`<id>: ...` and the indented lines after it), by id: the kernel is shared, so a listing is
 * compared only on objects the test made.
 */
export function listingBlocks(text: string, ids: readonly number[]): string[] {
  return text
    .split(/^(?=\d+: )/m)
    .filter((b) => ids.includes(Number(/^(\d+):/.exec(b)?.[1])))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
}

/** What `fn` throws (undefined when it returns): to assert on an error's class, message and cause together. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/**
 * A loopback TCP connection on a port the kernel picks: the accepted socket's fd (for a SOCKMAP),
 * `send(data)` writing from the client and resolving with what the accepted side received once it
 * has as many bytes, and `close()` for both ends and the server.
 */
export async function tcpPair(): Promise<{ fd: number; send(data: Buffer): Promise<Buffer>; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  const s = await accepted;
  return {
    fd: (s as unknown as { _handle: { fd: number } })._handle.fd,
    send(data) {
      const got: Buffer[] = [];
      let n = 0;
      const done = new Promise<Buffer>((r) =>
        s.on('data', (d: Buffer) => {
          got.push(d);
          if ((n += d.length) >= data.length) r(Buffer.concat(got));
        }),
      );
      client.write(data);
      return done;
    },
    close() {
      client.destroy();
      s.destroy();
      server.close();
    },
  };
}
