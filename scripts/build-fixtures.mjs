#!/usr/bin/env node
// Rebuild the committed fixture objects under test/fixtures and their manifest.
// Needs clang-16 and llvm-strip-16 (Debian: clang-16 llvm-16).
import fs from 'node:fs';
import path from 'node:path';
import { buildFixture, fileHash, fixtureTargets, fixturesDir, inputHash, manifestPath } from './fixtures-lib.mjs';

const manifest = {};
for (const t of fixtureTargets()) {
  const out = path.join(fixturesDir, t.object);
  buildFixture(t, out);
  manifest[t.object] = { source: t.source, target: t.target, input: inputHash(t), output: fileHash(out) };
  console.log(`built ${t.object}`);
}
fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
