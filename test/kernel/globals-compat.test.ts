// libbpf's global-data maps side by side with bpftool (libbpf 1.1): the `<obj7>.kconfig` map (name,
// flags, pinned by --pinmaps, listed by describe) and .rodata bound to every program, so
// `bpftool prog show` finds bpf_metadata_* on a program that never reads it.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool (the peer) is missing');
const OBJ = fixture('metadata_kconfig.bpfel.o');
const base = `/sys/fs/bpf/bee-ts-globals-${process.pid}`;
const bpftoolJson = (...args: string[]) => JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8' }));

interface MapShow {
  name: string;
  type: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  frozen: number;
  btf_id?: number;
}

describe.skipIf(skip)('global data maps as libbpf makes them', () => {
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it('prog loadall --pinmaps: the same map pins, names and flags as bpftool, .kconfig included', () => {
    fs.mkdirSync(base, { recursive: true });
    execFileSync('bpftool', ['prog', 'loadall', OBJ, `${base}/tp`, 'pinmaps', `${base}/tm`], { stdio: 'pipe' });
    const r = runCli(['prog', 'loadall', OBJ, `${base}/bp`, '--pinmaps', `${base}/bm`]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pins = fs.readdirSync(`${base}/tm`).sort();
    expect(pins).toContain('metadat_kconfig');
    expect(fs.readdirSync(`${base}/bm`).sort()).toEqual(pins);
    const strip = (m: MapShow) => ({ name: m.name, type: m.type, flags: m.flags, bytes_key: m.bytes_key, bytes_value: m.bytes_value, max_entries: m.max_entries, frozen: m.frozen, btf: (m.btf_id ?? 0) > 0 });
    for (const p of pins) expect(strip(bpftoolJson('map', 'show', 'pinned', `${base}/bm/${p}`)), p).toEqual(strip(bpftoolJson('map', 'show', 'pinned', `${base}/tm/${p}`)));
    // The kconfig values the program reads are the kernel's: reads_kconfig returns CONFIG_HZ + 1.
    const kc = bpftoolJson('map', 'dump', 'pinned', `${base}/bm/metadat_kconfig`);
    const peer = bpftoolJson('map', 'dump', 'pinned', `${base}/tm/metadat_kconfig`);
    expect(kc).toEqual(peer);
  });

  it('describe lists the .kconfig map', () => {
    const j = JSON.parse(runCli(['describe', '--json', OBJ]).stdout) as { maps: { name: string; section: string; flags: number }[] };
    expect(j.maps.find((m) => m.section === '.kconfig')).toMatchObject({ name: 'metadat.kconfig', flags: 0x80 });
  });

  it('prog load binds the unreferenced .rodata: bpftool prog show gives the same metadata and map names', () => {
    execFileSync('bpftool', ['prog', 'load', OBJ, `${base}/tsingle`], { stdio: 'pipe' });
    const r = runCli(['prog', 'load', OBJ, `${base}/bsingle`]);
    expect(r.status).toBe(0);
    const ours = bpftoolJson('prog', 'show', 'pinned', `${base}/bsingle`) as { metadata?: unknown; map_ids: number[] };
    const theirs = bpftoolJson('prog', 'show', 'pinned', `${base}/tsingle`) as { metadata?: unknown; map_ids: number[] };
    expect(theirs.metadata).toEqual({ owner: 'bee-ts' });
    expect(ours.metadata).toEqual(theirs.metadata);
    const names = (ids: number[]) => ids.map((id) => (bpftoolJson('map', 'show', 'id', String(id)) as MapShow).name).sort();
    expect(names(ours.map_ids)).toEqual(names(theirs.map_ids));
  });
});
