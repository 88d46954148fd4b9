// BPF iterators on the real kernel: iter/task finds this process, iter/bpf_map finds a map the
// test created, per-process task iterators, the async iterator, and `bee-ts iter pin` next to
// `bpftool iter pin` on the same object.
import '../../src/syscall/native.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IterLink } from '../../src/link/iter.js';
import { createMap } from '../../src/maps/create.js';
import { BpfObject } from '../../src/loader/object.js';
import { MapType } from '../../src/syscall/constants.js';
import { mapInfo } from '../../src/syscall/info.js';
import { fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';
import { expectedElemLines, walkMapElems } from '../iter-elem.js';

const skip = needKernel();
const skipCli = skip ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');
const comm = fs.readFileSync('/proc/self/comm', 'utf8').trim().slice(0, 15);
const lines = (s: string) => s.split('\n').filter(Boolean);

describe.skipIf(skip)('BPF iterators', () => {
  it('iter/task lists this process; a pid-limited walk lists only its threads; for await gives the same text', async () => {
    using o = BpfObject.open(fixture('iter.bpfel.o'), { autoload: ['dump_task'] }).load();
    using all = o.program('dump_task').attach() as IterLink;
    expect(all).toBeInstanceOf(IterLink);
    const everything = lines(all.read());
    expect(everything).toContain(`${process.pid} ${process.pid} ${comm}`);
    expect(everything.length).toBeGreaterThan(10);
    // Two walks are two sessions: the second sees the same process again.
    expect(lines(all.read())).toContain(`${process.pid} ${process.pid} ${comm}`);

    using mine = o.program('dump_task').attach({ iter: { pid: process.pid } }) as IterLink;
    const own = lines(mine.read());
    const tids = fs.readdirSync('/proc/self/task').map(Number);
    expect(own.length).toBeGreaterThan(0);
    for (const l of own) expect(Number(l.split(' ')[1])).toBe(process.pid);
    expect(own.map((l) => Number(l.split(' ')[0]))).toEqual(expect.arrayContaining([process.pid]));
    expect(tids).toEqual(expect.arrayContaining([process.pid]));

    let text = '';
    for await (const chunk of mine) text += chunk.toString();
    expect(lines(text)[0]).toBe(own[0]);
    expect(() => mine.read(4)).toThrow(/more than 4 bytes/);
  });

  it('iter/bpf_map lists a map this test created, by id and name', () => {
    const name = `ak_it${process.pid}`.slice(0, 15);
    using m = createMap({ name, type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf' });
    const id = mapInfo(m.fd.value).id;
    using o = BpfObject.open(fixture('iter.bpfel.o'), { autoload: ['dump_map'] }).load();
    using l = o.program('dump_map').attach() as IterLink;
    expect(lines(l.read())).toContain(`${id} ${name}`);
    m.close();
    expect(lines(l.read())).not.toContain(`${id} ${name}`);
  });

  it.skipIf(skipCli)('iter/bpf_map_elem walks the map the link names where the kernel allows it; where it refuses the target (this 6.18 host), the error says the kernel refused it before verifying any instruction, and libbpf (bpftool prog load) is refused alike', () => {
    let err: unknown;
    try {
      expect(walkMapElems()).toEqual(expectedElemLines());
      return;
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('EPERM');
    expect((err as Error).message).toMatch(/program 'dump_elem' \(section iter\/bpf_map_elem\): BPF_PROG_LOAD: EPERM/);
    expect((err as Error).message).toMatch(/this kernel refused 'iter\/bpf_map_elem' before verifying a single instruction \(verifier log: "processed 0 insns.*not the program's code/);
    const pin = `/sys/fs/bpf/bee_iter_elem_${process.pid}`;
    try {
      const r = spawnSync('bpftool', ['-d', 'prog', 'load', fixture('iter_elem.bpfel.o'), pin], { encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/prog 'dump_elem': BPF program load failed: Operation not permitted/);
      expect(r.stderr).toMatch(/processed 0 insns/);
    } finally {
      fs.rmSync(pin, { force: true });
    }
  });

  it.skipIf(skipCli)('bee-ts iter pin OBJ PATH pins the first program as bpftool iter pin does; reading the pin walks it', () => {
    const ours = `/sys/fs/bpf/bee_iter_${process.pid}`;
    const theirs = `/sys/fs/bpf/bee_iter_bt_${process.pid}`;
    try {
      const r = runCli(['iter', 'pin', fixture('iter.bpfel.o'), ours]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toBe('');
      execFileSync('bpftool', ['iter', 'pin', fixture('iter.bpfel.o'), theirs], { stdio: 'ignore' });
      const a = lines(fs.readFileSync(ours, 'utf8'));
      const b = lines(fs.readFileSync(theirs, 'utf8'));
      expect(a).toContain(`${process.pid} ${process.pid} ${comm}`);
      expect(b).toContain(`${process.pid} ${process.pid} ${comm}`);
      // Same target, same line format: kernel threads (stable) appear identically in both.
      expect(a.filter((l) => l.startsWith('2 2 '))).toEqual(b.filter((l) => l.startsWith('2 2 ')));
      const show = (p: string) => JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', p], { encoding: 'utf8' })) as { type: string; target_name?: string };
      expect(show(ours)).toMatchObject({ type: 'iter', target_name: 'task' });
      expect(show(ours).target_name).toBe(show(theirs).target_name);
      const bad = runCli(['iter', 'pin', fixture('iter.bpfel.o'), ours]);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/File exists|EEXIST/);
    } finally {
      fs.rmSync(ours, { force: true });
      fs.rmSync(theirs, { force: true });
    }
  });
});
