import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { bpftoolIds, fixture, needKernel, objectNames, runCli } from '../helpers.js';

const skip = needKernel();
const base = `/sys/fs/bpf/bee-loadall-${process.pid}`;

describe.skipIf(skip)('bee-ts prog loadall', () => {
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it("pins programs and maps of a bee .maps.print object (which libbpf refuses), with --set", () => {
    const r = runCli(['prog', 'loadall', fixture('bee_suffix.bpfel.o'), `${base}/p`, '--pinmaps', `${base}/m`, '--set', 'target_pid=4242']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readdirSync(`${base}/p`)).toEqual(['on_open']);
    expect(fs.readdirSync(`${base}/m`).sort()).toEqual(['bee_suff_bss', 'bee_suff_rodata', 'events', 'open_gauge', 'sockets_counter', 'start']);
    const prog = JSON.parse(runCli(['prog', 'show', 'pinned', `${base}/p/on_open`, '--json']).stdout);
    expect(prog.type).toBe('tracepoint');
    const ro = JSON.parse(runCli(['map', 'dump', 'pinned', `${base}/m/bee_suff_rodata`, '--json']).stdout);
    expect(ro[0].formatted.value['.rodata'][0].target_pid).toBe(4242);
    fs.rmSync(`${base}/p`, { recursive: true });
    fs.rmSync(`${base}/m`, { recursive: true });
  });

  it('--autoattach pins links that keep programs attached after exit; removing them detaches', async () => {
    const names = objectNames(fixture('attach.bpfel.o'));
    const linksBefore = bpftoolIds('link', names);
    const r = runCli(['prog', 'loadall', fixture('attach.bpfel.o'), `${base}/a`, '--autoattach', '--pinmaps', `${base}/am`]);
    expect(r.status).toBe(0);
    // count_tp, count_rawtp and count_cgroup auto-attach (links pinned); uprobe/xdp/tc need targets
    // and perf_event an event (libbpf has no auto-attach for it), so those are pinned as programs
    // with bpftool 7.2+'s note.
    const note = (p: string) => `Program ${p} does not support autoattach, falling back to pinning\n`;
    expect(r.stderr).toBe(['count_uprobe', 'count_uretprobe', 'count_xdp', 'count_tc', 'count_perf'].map(note).join(''));
    expect(fs.readdirSync(`${base}/a`).sort()).toEqual(['count_cgroup', 'count_perf', 'count_rawtp', 'count_tc', 'count_tp', 'count_uprobe', 'count_uretprobe', 'count_xdp']);
    expect(JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', `${base}/a/count_rawtp`], { encoding: 'utf8' })).tp_name).toBe('sys_enter');
    expect(JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', `${base}/a/count_perf`], { encoding: 'utf8' })).type).toBe('perf_event');
    const newLinks = bpftoolIds('link', names).filter((id) => !linksBefore.includes(id));
    expect(newLinks.length).toBeGreaterThanOrEqual(3);
    // Still firing after the command exited:
    fs.readFileSync('/proc/self/stat');
    const bss = JSON.parse(runCli(['map', 'dump', 'pinned', `${base}/am/attach_bss`, '--json']).stdout);
    const vars = Object.assign({}, ...bss[0].formatted.value['.bss']);
    expect(vars.rawtp_hits).toBeGreaterThan(0);
    fs.rmSync(`${base}/a`, { recursive: true });
    fs.rmSync(`${base}/am`, { recursive: true });
    // Links are freed once unpinned (the kernel may take a moment).
    for (let i = 0; i < 50 && bpftoolIds('link', names).some((id) => newLinks.includes(id)); i++) await new Promise((res) => setTimeout(res, 100));
    expect(bpftoolIds('link', names).filter((id) => newLinks.includes(id))).toEqual([]);
  });

  it('--autoattach when the first program cannot attach: pinned unattached, the rest attached, exit 0 (bpftool 7.2+)', () => {
    const obj = fixture('autoattach_partial.bpfel.o');
    const r = runCli(['prog', 'loadall', obj, `${base}/pa`, '--autoattach', '--pinmaps', `${base}/pam`]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^Warning: program 'never_attaches': \S*autoattach_partial\.bpfel\.o: .*sys_enter_no_such_syscall.*\nProgram never_attaches does not support autoattach, falling back to pinning\n$/);
    expect(fs.readdirSync(`${base}/pa`).sort()).toEqual(['counts_getppid', 'never_attaches']);
    expect(JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', `${base}/pa/never_attaches`], { encoding: 'utf8' })).name).toBe('never_attaches');
    expect(JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show', 'pinned', `${base}/pa/counts_getppid`], { encoding: 'utf8' })).type).toBe('perf_event');
    expect(fs.readdirSync(`${base}/pam`)).toEqual(['partial_hits']);
    fs.rmSync(`${base}/pa`, { recursive: true });
    fs.rmSync(`${base}/pam`, { recursive: true });
  });

  it('when pinning fails after load, no program or map pins are left and the exit status is non-zero', () => {
    const obj = fixture('autoattach_partial.bpfel.o');
    fs.mkdirSync(`${base}/pf/counts_getppid`, { recursive: true }); // the second pin collides
    const r = runCli(['prog', 'loadall', obj, `${base}/pf`, '--autoattach', '--pinmaps', `${base}/pfm`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/counts_getppid.*EEXIST/);
    expect(fs.readdirSync(`${base}/pf`)).toEqual(['counts_getppid']);
    expect(fs.existsSync(`${base}/pfm`) ? fs.readdirSync(`${base}/pfm`) : []).toEqual([]);
    fs.rmSync(`${base}/pf`, { recursive: true });
  });

  it('a failing object pins nothing and exits non-zero', () => {
    const r = runCli(['prog', 'loadall', fixture('bad_verifier.bpfel.o'), `${base}/bad`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/program 'out_of_bounds'/);
    expect(fs.existsSync(`${base}/bad`) ? fs.readdirSync(`${base}/bad`) : []).toEqual([]);
  });

  it('prog load pins the first program only, like bpftool prog load; the others are not even loaded', () => {
    const names = objectNames(fixture('globals.bpfel.o'));
    const progsBefore = bpftoolIds('prog', names);
    fs.mkdirSync(base, { recursive: true });
    const r = runCli(['prog', 'load', fixture('globals.bpfel.o'), `${base}/first`]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const mine = JSON.parse(runCli(['prog', 'show', 'pinned', `${base}/first`, '--json']).stdout);
    execFileSync('bpftool', ['prog', 'load', fixture('globals.bpfel.o'), `${base}/peer`]);
    const theirs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show', 'pinned', `${base}/peer`], { encoding: 'utf8' }));
    expect(mine.name).toBe(theirs.name);
    expect(mine.type).toBe(theirs.type);
    // One program of ours is loaded (plus bpftool's one), not the object's two.
    expect(bpftoolIds('prog', names).filter((id) => !progsBefore.includes(id))).toHaveLength(2);
    fs.rmSync(`${base}/first`);
    fs.rmSync(`${base}/peer`);
    expect(runCli(['prog', 'load', fixture('globals.bpfel.o'), `${base}/x`, '--set', 'nope=1']).status).not.toBe(0);
  });
});
