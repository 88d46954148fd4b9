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
