// Committed fixture objects must match their sources: by manifest hash always, and byte for byte
// after a rebuild when clang-16 is present (always under CI=true).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS helper shared with the build script
import { buildFixture, fileHash, fixtureTargets, fixturesDir, inputHash, manifestPath, CLANG, STRIP } from '../scripts/fixtures-lib.mjs';
import { hasCommand, need } from './helpers.js';

interface Target {
  name: string;
  source: string;
  target: string;
  object: string;
}
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, { input: string; output: string }>;
const targets = fixtureTargets() as Target[];

describe('fixtures are fresh', () => {
  it('every source has its objects in the manifest, and nothing else is there', () => {
    expect(Object.keys(manifest).sort()).toEqual(targets.map((t) => t.object).sort());
  });

  it.each(targets.map((t) => [t.object, t] as const))('%s matches its source (run `npm run fixtures` if not)', (_o, t) => {
    const entry = manifest[t.object]!;
    expect(inputHash(t), `${t.source} or a header changed since ${t.object} was built`).toBe(entry.input);
    expect(fileHash(path.join(fixturesDir, t.object)), `${t.object} differs from what the manifest recorded`).toBe(entry.output);
  });

  it('rebuilding with clang-16 reproduces every object byte for byte', () => {
    if (need(hasCommand(CLANG) && hasCommand(STRIP), `${CLANG}/${STRIP} not installed (apt-get install clang-16 llvm-16)`)) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-fixtures-'));
    for (const t of targets) {
      const out = path.join(dir, t.object);
      buildFixture(t, out);
      expect(fileHash(out), `${t.object} is stale: run npm run fixtures`).toBe(fileHash(path.join(fixturesDir, t.object)));
    }
  });
});
