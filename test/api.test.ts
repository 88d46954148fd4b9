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
  let modelDir: string;
  beforeAll(() => {
    work = workDir();
    entry = buildTypes(work);
  }, 300_000);
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('the report is current and the extractor has nothing to say (every type a public signature uses is exported, doc comments parse)', () => {
    const messages: string[] = [];
    const r = extract(entry, work, { messages });
    modelDir = r.model;
    expect(messages).toEqual([]);
    expect(r.errors).toBe(0);
    expect(r.changed, 'the public API differs from etc/bee-ts.api.md: run `npm run api` and review the diff').toBe(false);
    // docs/api: generated from this same model.
    const out = path.join(work, 'docs');
    renderDocs(r.model, out);
    expect(diffDirs(out, DOCS), 'docs/api is stale: run `npm run api`').toEqual([]);
  });

  it('public methods say what they throw (@throws), except those that throw nothing', () => {
    // Internal members are not in the model. What throws nothing is listed here, deliberately.
    const classes = ['BpfObject', 'Program', 'Globals', 'BpfMap', 'OpenMap', 'OpenProgram', 'RingBufReader', 'PerfBufReader'];
    const functions = ['parseObject', 'parseBtf', 'createMap', 'dumpC'];
    const throwsNothing = new Set([
      'close', '[Symbol.dispose]', 'BpfObject.constructor', 'BpfObject.sockMaps', 'BpfObject.structOpsNames', 'BpfObject.discardNewPins', 'Globals.names',
      'RingBufReader.consumeRaw', 'RingBufReader.consumeBatch', 'RingBufReader.onRaw', 'RingBufReader.available',
      'PerfBufReader.consumeRaw', 'PerfBufReader.onRaw', 'PerfBufReader.onEvent',
    ]);
    interface Item { kind: string; name: string; docComment?: string; members?: Item[] }
    const model = JSON.parse(fs.readFileSync(path.join(modelDir, 'bee-ts.api.json'), 'utf8')) as { members: Item[] };
    const top = model.members[0]!.members!;
    const missing: string[] = [];
    const seen: string[] = [];
    for (const c of top.filter((e) => e.kind === 'Class' && classes.includes(e.name)))
      for (const m of c.members ?? [])
        if (m.kind === 'Method' || m.kind === 'Constructor') {
          const name = `${c.name}.${m.kind === 'Constructor' ? 'constructor' : m.name}`;
          seen.push(name);
          if (!throwsNothing.has(m.name) && !throwsNothing.has(name) && !/@throws/.test(m.docComment ?? '')) missing.push(name);
        }
    for (const f of top.filter((e) => e.kind === 'Function' && functions.includes(e.name))) {
      seen.push(f.name);
      if (!/@throws/.test(f.docComment ?? '')) missing.push(f.name);
    }
    expect(seen.length, 'self-check: the model has the classes and functions named').toBeGreaterThan(80);
    expect(missing).toEqual([]);
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

  it('no two exports differ only in case (API Documenter names each page in lower case: one would overwrite the other)', () => {
    const text = fs.readFileSync(REPORT, 'utf8');
    const names = [...text.matchAll(/^export (?:declare )?(?:abstract )?(?:function|class|interface|type|const|enum|namespace) (\w+)/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(100);
    const byLower = new Map<string, Set<string>>();
    for (const n of names) byLower.set(n.toLowerCase(), (byLower.get(n.toLowerCase()) ?? new Set()).add(n));
    expect([...byLower.values()].filter((s) => s.size > 1).map((s) => [...s].join(' / '))).toEqual([]);
  });
});
