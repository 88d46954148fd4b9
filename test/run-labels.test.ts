// `bee-ts run` computes a record's labels only when a filter, a metric or the sink needs them:
// JSON lines without a filter still print every record, and a filter on the same map still
// selects by field (the labels are computed for it). Real kernel, examples/opensnoop.o.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needKernel, root } from './helpers.js';
import { entries, type Running, startRun } from './run-helper.js';

const obj = path.join(root, 'examples', 'opensnoop.o');
const fname = (l: Record<string, unknown>) => (l.entry as { fname?: string }).fname;

/** Runs opensnoop for this process, opening `paths` (missing: openat is traced anyway) until `want` prints. */
async function openUntilSeen(args: string[], paths: string[], want: string): Promise<Running> {
  const r = await startRun(obj, ['--set', `target_pid=${process.pid}`, ...args]);
  const poke = setInterval(() => {
    for (const p of paths)
      try {
        fs.closeSync(fs.openSync(p, 'r'));
      } catch {
        /* ENOENT */
      }
  }, 50);
  try {
    await r.until(() => entries(r, 'print_opens').some((e) => fname(e) === want));
  } finally {
    clearInterval(poke);
    await r.stop();
  }
  return r;
}

describe.skipIf(needKernel())('run: labels only where needed (kernel)', () => {
  it('without a filter every record prints; with one, only matching records do', async () => {
    const tag = `bee-ts-labels-${process.pid}`;
    const a = path.join(os.tmpdir(), `${tag}-a`);
    const b = path.join(os.tmpdir(), `${tag}-b`);
    await openUntilSeen([], [a], a);
    const only = await openUntilSeen(['-f', `print_opens,fname,${tag}-b$`], [a, b], b);
    const names = entries(only, 'print_opens').map(fname);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n === b)).toBe(true);
  });
});
