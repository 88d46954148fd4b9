// The VM file list (test/vm-matrix.ts) covers test/kernel/: every file runs in the VMs or has a
// written reason to run on the host only, never both, and every listed file exists.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';
import { HOST_ONLY, VM_FILES } from './vm-matrix.js';

describe('the VM file list', () => {
  it('puts every test/kernel file in the VMs or on the host only (with a reason), not both, and names only files that exist', () => {
    const kernel = fs.readdirSync(path.join(root, 'test', 'kernel')).filter((f) => f.endsWith('.test.ts')).map((f) => `test/kernel/${f}`).sort();
    const inVm = VM_FILES.filter((f) => f.startsWith('test/kernel/'));
    const hostOnly = Object.keys(HOST_ONLY);
    expect(inVm.filter((f) => hostOnly.includes(f))).toEqual([]);
    expect([...inVm, ...hostOnly].sort()).toEqual(kernel);
    expect(new Set(inVm).size).toBe(inVm.length);
    for (const reason of Object.values(HOST_ONLY)) expect(reason.length).toBeGreaterThan(20);
  });
});

/** README's "Attach kinds and the kernels they were verified on": each row's cells by column. */
function attachTable(): { kind: string; host: string; vm61: string; vm612: string; files: string[] }[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### Attach kinds and the kernels they were verified on');
  expect(start).toBeGreaterThan(0);
  // The table: the lines from its header row to the first line that is not a row.
  const lines = readme.slice(start).split('\n');
  const head = lines.findIndex((l) => l.startsWith('| SEC() kind |'));
  expect(head).toBeGreaterThan(0);
  const end = lines.findIndex((l, i) => i > head && !l.startsWith('|'));
  const rows = lines.slice(head + 2, end);
  // Cells split on the | between cells (a cell's text may hold none: code spans use no pipes).
  return rows.map((l) => {
    const c = l.split(' | ').map((x) => x.replace(/^\| |\s*\|$/g, ''));
    expect(c, l).toHaveLength(5);
    return { kind: c[0]!, host: c[1]!, vm61: c[2]!, vm612: c[3]!, files: c[4]!.split(', ') };
  });
}

describe("README's attach-kind table", () => {
  it('names test files that exist, and a VM cell says what was seen exactly where one of its files runs in the VMs', () => {
    const rows = attachTable();
    expect(rows.length).toBeGreaterThan(40);
    const inVm = (f: string) => f.startsWith('vm/') || VM_FILES.includes(`test/${f}.test.ts`);
    const wrong: string[] = [];
    for (const r of rows) {
      for (const f of r.files) expect(fs.existsSync(path.join(root, 'test', `${f}.test.ts`)), `${r.kind}: test/${f}.test.ts`).toBe(true);
      const runs = r.files.some(inVm);
      // "—": no test runs it there. Otherwise a file of the row ran there (test/vm, or a
      // test/kernel file test/vm-matrix.ts lists): a kernel file moved in or out shows here.
      for (const [vm, cell] of [['6.1', r.vm61], ['6.12', r.vm612]] as const)
        if ((cell === '—') === runs) wrong.push(`${r.kind} (${vm}): "${cell}", and ${r.files.join(', ')} ${runs ? 'runs' : 'does not run'} in the VMs`);
    }
    expect(wrong).toEqual([]);
  });
});
