// `bee-ts run` computes a record's labels only when a filter, a metric or the sink needs them:
// JSON lines without a filter still print every record, and a filter on the same map still
// selects by field (the labels are computed for it). Real kernel, examples/opensnoop.o.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { needKernel, root } from './helpers.js';
import { entries, startRun } from './run-helper.js';

const obj = path.join(root, 'examples', 'opensnoop.o');
const fname = (l: Record<string, unknown>) => (l.entry as { fname?: string }).fname;

describe.skipIf(needKernel())('run: labels only where needed (kernel)', () => {
  it('without a filter every record prints; with one, only matching records do', async () => {
    const tag = `bee-ts-labels-${process.pid}`;
    const a = path.join(os.tmpdir(), `${tag}-a`);
    const b = path.join(os.tmpdir(), `${tag}-b`);
    const all = await startRun(obj, ['--set', `target_pid=${process.pid}`]);
    try {
      const poke = setInterval(() => { try { fs.openSync(a, 'r'); } catch { /* ENOENT: the open was still traced */ } }, 50);
      try {
        await all.until((l) => entries(all, 'print_opens').some((e) => fname(e) === a));
      } finally {
        clearInterval(poke);
      }
    } finally {
      await all.stop();
    }
    const only = await startRun(obj, ['--set', `target_pid=${process.pid}`, '-f', `print_opens,fname,${tag}-b$`]);
    try {
      const poke = setInterval(() => {
        for (const p of [a, b]) try { fs.openSync(p, 'r'); } catch { /* traced anyway */ }
      }, 50);
      try {
        await only.until((l) => entries(only, 'print_opens').some((e) => fname(e) === b));
      } finally {
        clearInterval(poke);
      }
    } finally {
      await only.stop();
    }
    const names = entries(only, 'print_opens').map(fname);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => n === b)).toBe(true);
  });
});
