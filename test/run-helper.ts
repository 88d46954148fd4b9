// Runs `bee-ts run` as a child process and collects its JSON lines, for end-to-end tests.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { bpftoolIds, childBound, cli, fdInfos, objectNames, waitUntil } from './helpers.js';

export interface Running {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string;
  port: number;
  metrics(): Promise<string>;
  until(pred: (l: Record<string, unknown>[]) => boolean, ms?: number): Promise<void>;
  stop(sig?: NodeJS.Signals): Promise<number | null>;
}

/** The metrics port a run reported in its 'running' line (it binds port 0: no collisions). */
export const metricsPort = (stderr: string) => Number(/metrics on http:\/\/[^/]*:(\d+)\/metrics/.exec(stderr)?.[1] ?? 0);

export async function startRun(obj: string, args: string[] = []): Promise<Running> {
  const metricsOff = args.includes('--no-metrics');
  const proc = spawn(process.execPath, [cli, 'run', obj, '--no-tty', ...(metricsOff ? [] : ['--prom-port', '0', '--prom-address', '127.0.0.1']), '--poll-interval', '200ms', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = {
    proc,
    lines: [],
    stderr: '',
    port: 0,
    metrics: async () => (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text(),
    // Waits on the child's output: under TCG (the VMs) its event loop is 20-50x slower, so there the bound is childBound's.
    until: async (pred, ms = childBound(20_000)) => {
      const end = Date.now() + ms;
      while (!pred(r.lines)) {
        if (Date.now() > end) throw new Error(`timed out; stderr: ${r.stderr}; lines: ${JSON.stringify(r.lines.slice(-3))}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    stop: (sig = 'SIGINT') =>
      new Promise((res) => {
        proc.once('exit', (code) => res(code));
        proc.kill(sig);
      }),
  };
  let buf = '';
  proc.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      r.lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  await new Promise<void>((res, rej) => {
    // Bounded: a start-up that never finishes is killed (not left running after the test).
    // Under QEMU's TCG (the VM suite) a start takes 20-50x the host's ~1 s, more on a loaded host.
    const bound = childBound(45_000);
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`bee-ts run did not start within ${bound / 1000} s: ${r.stderr}`));
    }, bound);
    proc.stderr!.on('data', (d) => {
      r.stderr += d;
      if (/bee-ts: running .*\n/.test(r.stderr)) {
        clearTimeout(t);
        r.port = metricsPort(r.stderr);
        res();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`bee-ts run exited ${code}: ${r.stderr}`));
    });
  });
  return r;
}

export const entries = (r: Running, map: string) => r.lines.filter((l) => l.mapName === map);
/** The programs named like `obj`'s, for `noneLeft`. */
export const progIds = (obj: string) => bpftoolIds('prog', objectNames(obj));

/** The BPF program ids some live process holds a program or link fd of (from every /proc/<pid>/fdinfo). */
function heldProgIds(): Set<number> {
  const ids = new Set<number>();
  for (const pid of fs.readdirSync('/proc')) if (/^\d+$/.test(pid)) {
    try {
      for (const id of progIdsOf(Number(pid))) ids.add(id);
    } catch {
      /* gone meanwhile */
    }
  }
  return ids;
}

/**
 * `obj`'s programs that appeared since `before` and are still loaded once their run exited
 * (waits up to 10 s for the kernel to free them). Programs a live process holds are not
 * leftovers: they belong to a concurrent run of the same object (another test, another user).
 */
export async function noneLeft(obj: string, before: number[]): Promise<number[]> {
  const left = () => {
    const fresh = progIds(obj).filter((id) => !before.includes(id));
    if (fresh.length === 0) return fresh;
    const held = heldProgIds();
    return fresh.filter((id) => !held.has(id));
  };
  let found: number[] = [];
  await waitUntil(() => (found = left()).length === 0, 10_000, 100);
  return found;
}


/** The BPF program ids a process holds through a program or a link fd (from its fdinfo): leak checks that ignore other tests' programs. */
export function progIdsOf(pid: number): number[] {
  const ids = new Set<number>();
  for (const info of fdInfos(pid)) {
    const m = /^prog_id:\s*(\d+)/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids];
}

export const progExists = (id: number) => spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0;

/**
 * Which of `ids` are still loaded once the kernel had up to `ms` to free them: a closed
 * program's last reference can go in a deferred work item (cgroup links, perf events), so a
 * check right after the holder exited can still see it for a moment.
 */
export async function progsLeft(ids: number[], ms = 10_000): Promise<number[]> {
  let left = ids;
  await waitUntil(() => (left = left.filter(progExists)).length === 0, ms, 100);
  return left;
}
