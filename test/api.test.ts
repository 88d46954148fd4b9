// The public API is deliberate and checked: API Extractor's report of what src/index.ts exports
// (etc/bee-ts.api.md) and the reference generated from the doc comments (docs/api/) must be what
// is committed. After a deliberate change: `npm run api`, and review the report's diff.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTypes, DOCS, diffDirs, extract, renderDocs, REPORT, workDir } from '../scripts/api.mjs';

describe('public API (API Extractor)', () => {
  let work: string;
  let entry: string;
  beforeAll(() => {
    work = workDir();
    entry = buildTypes(work);
  }, 300_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('the report is current and the extractor has nothing to say (every type a public signature uses is exported, doc comments parse)', () => {
    const messages: string[] = [];
    const r = extract(entry, work, { messages });
    expect(messages).toEqual([]);
    expect(r.errors).toBe(0);
    expect(r.changed, 'the public API differs from etc/bee-ts.api.md: run `npm run api` and review the diff').toBe(false);
    // docs/api: generated from this same model.
    const out = path.join(work, 'docs');
    renderDocs(r.model, out);
    expect(diffDirs(out, DOCS), 'docs/api is stale: run `npm run api`').toEqual([]);
  });

  it('a changed public surface fails the check (self-check: the committed report with one export taken out)', () => {
    const folder = path.join(work, 'tampered');
    fs.mkdirSync(folder);
    const text = fs.readFileSync(REPORT, 'utf8');
    const tampered = text.replace(/^export function parseObject\(.*\n/m, '');
    expect(tampered).not.toBe(text);
    fs.writeFileSync(path.join(folder, path.basename(REPORT)), tampered);
    const r = extract(entry, work, { reportFolder: folder, messages: [] });
    expect(r.changed).toBe(true);
  });

  it('internals stay out of the public surface', () => {
    const text = fs.readFileSync(REPORT, 'utf8');
    for (const name of ['parseElf', 'attachProgram', 'compileCodec', 'compileDecoder', 'attachIter', 'attachStructOps', 'Poller'])
      expect(text, name).not.toMatch(new RegExp(`^export (declare )?(function|class|const) ${name}\\b`, 'm'));
    // Everything marked @internal is flagged as such in the report.
    expect(text).toMatch(/\/\/ @internal\nexport interface AttachableProgram/);
  });
});
