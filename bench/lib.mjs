// Shared by the bench scripts: the checkout's root, command-line options, medians, timed processes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const args = process.argv.slice(2);
/**
 * The `bee-ts` bin of a checkout (package.json "bin", what `npm install -g` links: dist/cli/main.cjs
 * since session 10), or dist/cli/main.js for a checkout from before main.cjs (--before).
 */
export function cliOf(checkout = root) {
  const bin = JSON.parse(fs.readFileSync(path.join(checkout, 'package.json'), 'utf8')).bin?.['bee-ts'];
  const p = bin ? path.join(checkout, bin) : undefined;
  return p && fs.existsSync(p) ? p : path.join(checkout, 'dist/cli/main.js');
}
/** The value after `--name`, or `def`. */
export const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The environment of every timed whole-process command: this one without NODE_EXTRA_CA_CERTS.
 * Some machines set it (this host does); then every Node process parses those certificates before
 * any JavaScript runs (416 M of `node -e 0`'s 505 M instructions here: 77 vs 25 ms CPU), which
 * inflates `node -e 0` and bee-ts alike and flatters every ratio to `node -e 0`. A fresh Debian
 * machine has no such variable; no timed command needs it.
 */
export const timedEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'));
/** Said once per bench when timedEnv differs from the caller's. */
export const envNote = process.env.NODE_EXTRA_CA_CERTS === undefined ? '' : '; NODE_EXTRA_CA_CERTS (set here) is left out of each timed command\'s environment';

let rusageBin;
/**
 * bench/rusage.c, built once per process into a private folder (mkdtemp, mode 0700) removed at
 * exit: it runs a command and prints wait4's rusage in microseconds (GNU time rounds to 10 ms).
 */
export function rusageTool() {
  if (rusageBin) return rusageBin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-bench-rusage-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'rusage');
  const cc = spawnSync('gcc', ['-O2', '-o', bin, path.join(root, 'bench/rusage.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`building bench/rusage.c failed (apt-get install gcc): ${cc.error?.message ?? cc.stderr}`);
  return (rusageBin = bin);
}
/** What every whole-process bench says about its CPU and RSS figures. */
export const cpuNote = 'CPU = user+sys and max RSS from wait4(2) (bench/rusage.c, µs)';

/** Run argv under bench/rusage: wall ms (from here), CPU ms (user+sys, µs precision), max RSS MiB, after checking its exit status. */
export function timed(name, argv, ok = [0]) {
  const tool = rusageTool();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(tool, argv, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24, env: timedEnv });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const err = String(r.stderr);
  const m = /@@(\d+) (\d+) (\d+)\s*$/.exec(err);
  if (!m) throw new Error(`${name}: no timing (${r.error?.message ?? err.slice(-300)})`);
  if (!ok.includes(r.status)) throw new Error(`${name} exited ${r.status}: ${err.slice(0, 400)}`);
  return { wall, cpu: (Number(m[1]) + Number(m[2])) / 1000, rssMiB: Number(m[3]) / 1024 };
}

/**
 * `warmup + runs` rounds of every command, the order rotated by one each round (so no command is
 * always first after a pause); the timings of the rounds after the warm-up, per command name.
 */
export function rotatedRounds(cmds, warmup, runs, once) {
  const samples = new Map(cmds.map((c) => [c.name, { wall: [], cpu: [] }]));
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < cmds.length; i++) {
      const c = cmds[(i + round) % cmds.length];
      const s = once(c);
      if (round >= warmup) {
        samples.get(c.name).wall.push(s.wall);
        samples.get(c.name).cpu.push(s.cpu);
      }
    }
  }
  return samples;
}

/**
 * A bench's result, as its --json line: `npm run bench` (bench/run.mjs) sets BEE_TS_BENCH_OUT to a
 * file in a private folder and builds issue 13's target table from what every bench appended there.
 */
export function record(result) {
  const out = process.env.BEE_TS_BENCH_OUT;
  if (out) fs.appendFileSync(out, JSON.stringify(result) + '\n');
}
