#!/usr/bin/env node
// The public API, checked: compiles src/ to declarations in a private temp folder, runs API
// Extractor on them (api-extractor.json) and api-documenter on its doc model; first, the public
// AttachKind / AttachOptions from the SEC() table (scripts/gen-attach-api.mjs).
//   node scripts/api.mjs           update etc/bee-ts.api.md and docs/api/ (npm run api)
//   node scripts/api.mjs --check   change nothing; exit 1 when the public surface or the reference
//                                  differs from what is committed (test/api.test.ts does the same)
// Any API Extractor message (a type a public signature uses that src/index.ts does not export, a
// malformed doc comment, ...) is an error in both modes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { ATTACH_API, readTable, render } from './gen-attach-api.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPORT = path.join(root, 'etc', 'bee-ts.api.md');
export const DOCS = path.join(root, 'docs', 'api');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}

/** A private work folder (mkdtemp: 0700, a fresh name) for the declarations, the model and the docs. */
export function workDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-api-'));
}

/** src/ → declarations under `work`/types; returns the entry point. */
export function buildTypes(work) {
  const types = path.join(work, 'types');
  run(bin('tsc'), ['-p', 'tsconfig.json', '--emitDeclarationOnly', '--declarationMap', 'false', '--sourceMap', 'false', '--outDir', types]);
  return path.join(types, 'index.d.ts');
}

/**
 * API Extractor on the declarations. `update`: rewrite the report in `reportFolder` when it
 * differs; otherwise only say whether it does. Returns the error count, whether the report
 * differs, and the doc model's folder.
 */
export function extract(entry, work, { update = false, reportFolder = path.dirname(REPORT), messages = [] } = {}) {
  const configPath = path.join(root, 'api-extractor.json');
  const configObject = ExtractorConfig.loadFile(configPath);
  configObject.mainEntryPointFilePath = entry;
  configObject.apiReport.reportFolder = reportFolder;
  configObject.apiReport.reportTempFolder = path.join(work, 'report');
  const model = path.join(work, 'model');
  configObject.docModel.apiJsonFilePath = path.join(model, 'bee-ts.api.json');
  const config = ExtractorConfig.prepare({ configObject, configObjectFullPath: configPath, packageJsonFullPath: path.join(root, 'package.json') });
  const result = Extractor.invoke(config, {
    localBuild: update,
    messageCallback: (m) => {
      if (m.logLevel === 'error' || m.logLevel === 'warning') messages.push(m.formatMessageWithLocation(work));
    },
  });
  return { errors: result.errorCount, changed: result.apiReportChanged, model };
}

/** api-documenter: the doc model → Markdown in `out` (its old contents deleted). */
export function renderDocs(model, out) {
  run(bin('api-documenter'), ['markdown', '-i', model, '-o', out]);
  // Its `markdown` action always writes CRLF; the repository is LF.
  for (const f of listFiles(out)) {
    const p = path.join(out, f);
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replaceAll('\r\n', '\n'));
  }
}

function listFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true }).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** Files that are in one folder and not the other, or differ. */
export function diffDirs(a, b) {
  const fa = listFiles(a);
  const fb = listFiles(b);
  return [...new Set([...fa, ...fb])].filter((f) => !fa.includes(f) || !fb.includes(f) || !fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))));
}

function main() {
  const check = process.argv.includes('--check');
  const work = workDir();
  const problems = [];
  // AttachKind / AttachOptions from the SEC() table first: the declarations below include them.
  const attachApi = render(readTable());
  if (fs.readFileSync(ATTACH_API, 'utf8') !== attachApi) {
    if (check) problems.push(`${path.relative(root, ATTACH_API)} is stale (the SEC() table's hooks changed): run \`npm run api\``);
    else fs.writeFileSync(ATTACH_API, attachApi);
  }
  try {
    const messages = [];
    const r = extract(buildTypes(work), work, { update: !check, messages });
    for (const m of messages) console.error(m);
    if (r.errors > 0) problems.push(`${r.errors} error(s) from API Extractor`);
    else if (check && r.changed) problems.push(`the public API differs from ${path.relative(root, REPORT)}: review the change, then run \`npm run api\``);
    const docs = check ? path.join(work, 'docs') : DOCS;
    renderDocs(r.model, docs);
    if (check) {
      const differ = diffDirs(docs, DOCS);
      if (differ.length) problems.push(`docs/api is stale (${differ.length} file(s) differ, e.g. ${differ.slice(0, 3).join(', ')}): run \`npm run api\``);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  for (const p of problems) console.error(`api: ${p}`);
  if (problems.length) process.exit(1);
  console.log(check ? 'api: etc/bee-ts.api.md and docs/api/ are current' : 'api: etc/bee-ts.api.md and docs/api/ updated');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
