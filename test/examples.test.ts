// Committed example objects must match their sources (rebuilt byte for byte on the kernel they
// were built for: their vmlinux.h comes from that kernel's BTF).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS helper shared with the build script
import { buildExample, exampleInputHash, exampleSources } from '../scripts/build-examples.mjs';
import { cli, hasCommand, need, needKernel, root, runCli } from './helpers.js';
import { createHash } from 'node:crypto';

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'examples/manifest.json'), 'utf8')) as { kernel: string; objects: Record<string, { source: string; input: string; output: string }> };
const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

describe('examples are fresh', () => {
  it('every example source has a committed object in the manifest', () => {
    expect(Object.values(manifest.objects).map((o) => o.source).sort()).toEqual((exampleSources() as string[]).sort());
  });
  it.each(Object.entries(manifest.objects))('%s matches its source and headers (npm run examples)', (obj, m) => {
    expect(exampleInputHash(m.source), `${m.source} changed since ${obj} was built`).toBe(m.input);
    expect(sha(path.join(root, obj))).toBe(m.output);
  });
  // On the kernel they were built on, the rebuild is byte for byte; on any other kernel the
  // vmlinux.h differs (so do the objects), and the rebuild must still compile and load here.
  const sameKernel = os.release() === manifest.kernel;
  it.skipIf(need(hasCommand('clang-16'), 'rebuilding the examples needs clang-16') || need(fs.existsSync(cli), 'rebuilding the examples needs the built CLI (npm run build)'))(
    sameKernel ? 'rebuilds byte for byte on the kernel they were built on' : `rebuilds on this kernel (${os.release()}; byte-for-byte needs ${manifest.kernel}) and every rebuilt object loads`,
    () => {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ex-'));
      try {
        for (const [obj, m] of Object.entries(manifest.objects)) {
          const out = path.join(tmp, path.basename(obj));
          buildExample(m.source, out);
          if (sameKernel) expect(sha(out), `${obj} is stale: npm run examples`).toBe(m.output);
          else if (!needKernel()) {
            const r = runCli(['prog', 'loadall', out, `/sys/fs/bpf/bee-ex-${process.pid}`]);
            fs.rmSync(`/sys/fs/bpf/bee-ex-${process.pid}`, { recursive: true, force: true });
            expect({ obj, status: r.status, stderr: r.stderr }).toEqual({ obj, status: 0, stderr: '' });
          }
        }
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    },
    300_000,
  );
});
