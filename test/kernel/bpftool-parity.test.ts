// bpftool's command-line habits, side by side with bpftool on objects bpftool loaded: global
// options before and after the object, prefixes of commands and keywords, -p's layout, -f's pins.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliInProcess, fixture, hasCommand, listingBlocks as blocks, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
const dir = `/sys/fs/bpf/bee-parity-${process.pid}`;
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
const bee = (...args: string[]) => {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`bee-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

/**
 * bee-ts and bpftool print the same for `args`. Lists that depend on the whole system (the order
 * of a BTF's prog_ids follows every program on the kernel) are retried until both ran on the same
 * state, since other processes load and free objects meanwhile.
 */
async function same(args: string[]): Promise<void> {
  let ours = '';
  let theirs = '';
  for (let i = 0; i < 10; i++) {
    ours = bee(...args);
    theirs = bpftool(...args);
    if (ours === theirs) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(ours, args.join(' ')).toBe(theirs);
}

describe.skipIf(skip)('bpftool command-line parity', () => {
  let progId = 0;
  let mapId = 0;
  let btfId = 0;
  beforeAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    bpftool('prog', 'loadall', fixture('globals.bpfel.o'), `${dir}/progs`, 'pinmaps', `${dir}/maps`);
    const p = JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${dir}/progs/use_globals`));
    progId = p.id;
    btfId = p.btf_id;
    mapId = JSON.parse(bpftool('-j', 'map', 'show', 'pinned', `${dir}/maps/globals_data`)).id;
    // A second pin of the same program: -f lists both, in bpftool's order.
    bpftool('prog', 'pin', 'id', String(progId), `${dir}/second_pin`);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('-j, -p and --pretty before or after the object print what bpftool prints', async () => {
    const id = String(progId);
    for (const args of [
      ['-j', 'prog', 'show', 'id', id],
      ['prog', 'show', 'id', id, '-j'],
      ['-p', 'prog', 'show', 'id', id],
      ['prog', '--pretty', 'show', 'id', id],
      ['-jp', 'map', 'show', 'id', String(mapId)],
      ['map', 'show', 'id', String(mapId), '-p'],
      ['-p', 'btf', 'show', 'id', String(btfId)],
      ['btf', 'show', 'id', String(btfId)],
      ['-j', 'btf', 'show', 'id', String(btfId)],
      ['-p', 'map', 'dump', 'id', String(mapId)],
      ['-p', 'prog', 'dump', 'xlated', 'id', id],
    ])
      await same(args);
  });

  it('prefixes of commands and keywords, as bpftool', async () => {
    const id = String(progId);
    for (const args of [
      ['p', 's', 'i', id],
      ['prog', 'sh', 'id', id],
      ['prog', 'show', 'p', `${dir}/progs/use_globals`],
      ['map', 'du', 'i', String(mapId)],
      ['m', 'look', 'id', String(mapId), 'k', '0', '0', '0', '0'],
      ['prog', 'd', 'x', 'i', id, 'op'],
      ['btf', 'sh', 'i', String(btfId)],
    ])
      await same(args);
  });

  it('`prog` alone is `prog show` (and `map`, `link` alike)', () => {
    // Compared on this test's own objects (bpftool's loaded programs and maps, and the links of a
    // second copy bee-ts attached): a whole-system listing changes under other processes, and
    // with bpf_stats on (a profiler, a monitoring agent) every attached program's run counters
    // change between two listings.
    const auto = `${dir}/auto`;
    expect(runCli(['prog', 'loadall', fixture('globals.bpfel.o'), auto, '--autoattach']).status).toBe(0);
    const linkIds = fs.readdirSync(auto).map((p) => JSON.parse(bpftool('-j', 'link', 'show', 'pinned', `${auto}/${p}`)).id as number);
    const progIds = fs.readdirSync(`${dir}/progs`).map((p) => JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${dir}/progs/${p}`)).id as number);
    const mapIds = fs.readdirSync(`${dir}/maps`).map((m) => JSON.parse(bpftool('-j', 'map', 'show', 'pinned', `${dir}/maps/${m}`)).id as number);
    for (const [obj, ids] of [['prog', progIds], ['map', mapIds], ['link', linkIds]] as const) {
      const ours = blocks(bee(obj), ids);
      expect(ours, obj).toHaveLength(ids.length);
      expect(ours, obj).toEqual(blocks(bee(obj, 'show'), ids));
    }
    fs.rmSync(auto, { recursive: true });
  });

  it('-f/--bpffs adds the pinned paths (text and JSON) in bpftool order', () => {
    const id = String(progId);
    for (const args of [
      ['-f', 'prog', 'show', 'id', id],
      ['prog', 'show', 'id', id, '--bpffs'],
      ['-jf', 'prog', 'show', 'id', id],
      ['-f', 'map', 'show', 'id', String(mapId)],
      ['-f', '-j', 'map', 'show', 'id', String(mapId)],
    ])
      expect(bee(...args), args.join(' ')).toBe(bpftool(...args));
    const j = JSON.parse(bee('-jf', 'prog', 'show', 'id', id));
    expect(j.pinned.sort()).toEqual([`${dir}/progs/use_globals`, `${dir}/second_pin`].sort());
  });

  it('-d, -m and -n are accepted where bpftool accepts them', () => {
    const id = String(progId);
    expect(bee('-d', '-m', '-n', 'prog', 'show', 'id', id)).toBe(bpftool('prog', 'show', 'id', id));
    expect(bee('prog', 'show', 'id', id, '--nomount', '--mapcompat', '--debug')).toBe(bpftool('prog', 'show', 'id', id));
  });

  // A process that runs several commands (the in-process CLI of the VMs, a batch) sees programs
  // loaded after its first dump: their subprogram calls are named from /proc/kallsyms as it is
  // now (a snapshot kept from the first dump printed them as bare addresses).
  it('a program loaded after an earlier dump in the same process: its calls named as bpftool names them', () => {
    const first = cliInProcess(['prog', 'dump', 'xlated', 'id', String(progId)]);
    expect(first.status, first.stderr).toBe(0);
    bpftool('prog', 'loadall', fixture('globals.bpfel.o'), `${dir}/later`);
    const later = String(JSON.parse(bpftool('-j', 'prog', 'show', 'pinned', `${dir}/later/use_globals`)).id);
    const theirs = bpftool('prog', 'dump', 'xlated', 'id', later);
    const ours = cliInProcess(['prog', 'dump', 'xlated', 'id', later]);
    expect(ours.status, ours.stderr).toBe(0);
    expect(ours.stdout).toBe(theirs);
  });

  it('JSON errors follow -j wherever it is, pretty under -p', () => {
    const r = runCli(['prog', 'show', 'id', '4000000000', '-p']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^\{\n {4}"error": ".*"\n\}\n$/);
  });
});
