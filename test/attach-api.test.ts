// Adding an attach kind is one new file in src/link and one row in the SEC() table: the public
// AttachKind / AttachOptions (src/link/attach-api.ts) are generated from the table by
// scripts/gen-attach-api.mjs (`npm run api`), and the table's compile-time check fails until they
// are. Shown on a copy of src/ with a kind added the way CONTRIBUTING.md says.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ATTACH_API, readTable, render } from '../scripts/gen-attach-api.mjs';

const SRC = path.resolve(import.meta.dirname, '..', 'src');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-attach-api-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the public attach types come from the SEC() table', () => {
  const current = readTable();

  it('src/link/attach-api.ts is what the table generates, and the table type-checks against it', () => {
    expect(fs.readFileSync(ATTACH_API, 'utf8'), 'stale: run `npm run api`').toBe(render(current));
    expect(current.diagnostics).toEqual([]);
    // Every hook kind the table names, each options interface once.
    expect(current.kinds).toContain('kprobe');
    expect(current.kinds).toContain('none');
    expect(current.options.map(([n]) => n)).toContain('XdpOptions');
    expect(new Set(current.options.map(([n]) => n)).size).toBe(current.options.length);
  }, 120_000);

  it('a new kind: its hook file and its row; the check fails until `npm run api` regenerates, then passes', () => {
    const src = path.join(tmp, 'src');
    fs.cpSync(SRC, src, { recursive: true });
    fs.writeFileSync(
      path.join(src, 'link', 'demo.ts'),
      `import { AttachError, defineHook } from './kinds.js';
import { BaseLink } from './link.js';

export interface DemoOptions {
  /** demo programs: where to attach. */
  demo?: { where: string };
}

export const demoHook = defineHook('demo', 'never', (p, _target, o: DemoOptions) => {
  if (!o.demo) throw new AttachError(p.name, 'needs { demo: { where } }');
  return new BaseLink('demo', p.name, o.demo.where, undefined, { detach: () => {} });
});
`,
    );
    const table = path.join(src, 'loader', 'sections.ts');
    const text = fs.readFileSync(table, 'utf8');
    const added = text
      .replace("import { xdpHook } from '../link/xdp.js';\n", "import { xdpHook } from '../link/xdp.js';\nimport { demoHook } from '../link/demo.js';\n")
      .replace('] as const satisfies readonly SecDef[];', "  def('demo', P.SOCKET_FILTER, demoHook),\n] as const satisfies readonly SecDef[];");
    expect(added.split('\n').length - text.split('\n').length).toBe(2); // the row and its import
    fs.writeFileSync(table, added);

    const stale = readTable(table);
    expect(stale.kinds).toEqual([...current.kinds, 'demo'].sort());
    expect(stale.options).toContainEqual(['DemoOptions', 'demo.js']);
    expect(stale.diagnostics.length, 'the table\'s check fails before regenerating').toBeGreaterThan(0);

    const generated = render(stale);
    const before = new Set(render(current).split('\n'));
    const changed = generated.split('\n').filter((l) => !before.has(l));
    expect(changed.slice(0, 3)).toEqual(["import type { DemoOptions } from './demo.js';", "  | 'demo'", '    DemoOptions,']);
    expect(changed.slice(3)).toHaveLength(1); // the export line, with DemoOptions in it
    expect(changed[3]).toMatch(/^export type \{ .*\bDemoOptions, .*\};$/);
    fs.writeFileSync(path.join(src, 'link', 'attach-api.ts'), generated);
    expect(readTable(table).diagnostics).toEqual([]);
  }, 300_000);
});
