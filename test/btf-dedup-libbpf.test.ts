// BTF dedup's 'libbpf-1.1' flavor side by side with libbpf-dev 1.1's btf__dedup (a C peer built at
// test time, test/peers/btf-dedup.c): the .BTF of several objects appended into one (as
// btf__add_btf appends them: ids shifted, strings in first-use order) and deduplicated by both;
// the raw blobs must be byte-identical. Inputs: examples/ and the fixtures, whose BTF is mostly
// this kernel's vmlinux types (each object a compilation unit of vmlinux.h), grouped 2–5 at a time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { dedupBtf, typeStrings } from '../src/btf/dedup.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, withTypeIds } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { hasCommand, need, root } from './helpers.js';

const skip = need(hasCommand('gcc') && fs.existsSync('/usr/include/bpf/btf.h'), 'the libbpf peer needs gcc and libbpf-dev');

describe.skipIf(skip)("BTF dedup ('libbpf-1.1') and libbpf 1.1's btf__dedup give the same bytes", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-dedup-${process.pid}-`));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('on groups of examples and fixtures', () => {
    const peer = path.join(tmp, 'btf-dedup');
    execFileSync('gcc', ['-O1', '-o', peer, path.join(root, 'test/peers/btf-dedup.c'), '-lbpf']);
    const objs = [
      ...fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.o')).map((f) => path.join(root, 'examples', f)),
      ...fs.readdirSync(path.join(root, 'test/fixtures')).filter((f) => f.endsWith('.bpfel.o')).map((f) => path.join(root, 'test/fixtures', f)),
    ]
      .sort()
      .filter((f) => parseElf(fs.readFileSync(f), f).sectionByName('.BTF'));
    const groups: string[][] = [];
    for (let i = 0, n = 2; i < objs.length; i += n, n = 2 + (n % 4)) groups.push(objs.slice(i, i + n));
    const differ: string[] = [];
    let merged = 0;
    for (const g of groups) {
      const out = path.join(tmp, 'out.btf');
      execFileSync(peer, [out, ...g]);
      const types: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }];
      const strings: string[] = [];
      for (const f of g) {
        const btf = parseBtf(parseElf(fs.readFileSync(f), f).sectionByName('.BTF')!.data, { file: f });
        const base = types.length - 1;
        for (let i = 1; i < btf.types.length; i++) {
          const t = withTypeIds(btf.types[i]!, (id) => (id ? id + base : 0));
          types.push({ ...t, id: types.length });
          strings.push(...typeStrings(t));
        }
      }
      const d = dedupBtf(types, { flavor: 'libbpf-1.1', strings });
      merged += types.length - d.types.length;
      if (!Buffer.from(encodeBtf(d.types, true, d.strings)).equals(fs.readFileSync(out))) differ.push(g.map((f) => path.basename(f)).join('+'));
    }
    expect(differ).toEqual([]);
    expect(groups.length).toBeGreaterThanOrEqual(20);
    // The groups share most of their types: dedup removed many (not a trivial pass-through).
    expect(merged).toBeGreaterThan(200);
  }, 120_000);
});
