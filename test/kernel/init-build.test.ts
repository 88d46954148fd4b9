// bee-ts init → build → run, for every template; build's clang discovery and errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('clang-16'), 'clang-16 is not installed');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-init-'));

const combos: [string, string[]][] = [
  ['fs', ['--program-type', 'FileSystem']],
  ...['print', 'counter', 'gauge'].flatMap((o): [string, string[]][] => [
    [`rb-${o}`, ['--program-type', 'Network', '-m', 'RingBuffer', '-o', o]],
    [`hash-${o}`, ['--program-type', 'Network', '-m', 'HashMap', '-o', o]],
  ]),
];

describe.skipIf(skip)('init templates compile and run', () => {
  it.each(combos)('%s', (name, flags) => {
    const file = path.join(dir, `${name}.c`);
    const init = runCli(['init', '-l', 'C', ...flags, '-f', file, '--hook', 'tracepoint']);
    expect(init.status).toBe(0);
    expect(init.stdout).toContain('Successfully wrote skeleton BPF program');
    const src = fs.readFileSync(file, 'utf8');
    expect(src).toContain('#include "solo_types.h"');
    expect(src).toContain('"Dual MIT/GPL"');
    expect(src).toMatch(/\/\/ 1\. Change the license/);
    const build = runCli(['build', file]);
    expect(build.stderr).toContain('Successfully compiled');
    const run = runCli(['run', file.replace(/\.c$/, '.o'), '--no-tty', '--no-metrics', '--duration', '500ms']);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/bee-ts: running .*: 1 program attached, watching (print_events|\w+_events|\w+_values) \((print|counter|gauge)\)/);
  });

  it('kprobe-hook templates compile too', () => {
    for (const m of ['RingBuffer', 'HashMap']) {
      const file = path.join(dir, `kp-${m}.c`);
      expect(runCli(['init', '--program-type', 'Network', '-m', m, '-o', 'counter', '-f', file, '--hook', 'kprobe']).status).toBe(0);
      expect(fs.readFileSync(file, 'utf8')).toContain('SEC("kprobe/tcp_v4_connect")');
      expect(runCli(['build', file]).status).toBe(0);
    }
  });

  it("asks bee's questions in order when flags are missing", () => {
    const file = path.join(dir, 'asked.c');
    const r = spawnSync(process.execPath, [cli, 'init'], { input: `C\nNetwork\nHashMap\ngauge\n${file}\n`, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const order = ['What language do you wish to use for the filter', 'Selected Language: C', 'What type of program to initialize', 'Selected Program Type: Network', 'What type of map should we initialize', 'Selected Map Type: HashMap', 'What type of output would you like from your map', 'Selected Output Type: gauge', 'BPF Program File Location', 'Successfully wrote skeleton BPF program'];
    let at = 0;
    for (const o of order) {
      const i = r.stdout.indexOf(o, at);
      expect(i, o).toBeGreaterThanOrEqual(0);
      at = i;
    }
    expect(fs.readFileSync(file, 'utf8')).toContain('gauge_values SEC(".maps")');
  });

  it('validates flags', () => {
    expect(runCli(['init', '--program-type', 'FileSystem', '-m', 'HashMap', '-f', path.join(dir, 'x.c')]).stderr).toMatch(/FileSystem programs take no --map/);
    expect(runCli(['init', '--program-type', 'Disk', '-f', path.join(dir, 'y.c')]).stderr).toMatch(/--program-type: 'Disk' is not one of Network, FileSystem/);
  });

  it('build names the package to install when clang is missing', () => {
    const file = path.join(dir, 'fs.c');
    const r = spawnSync(process.execPath, [cli, 'build', file], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no clang found: install it \(Debian\/Ubuntu: apt-get install clang-16 llvm-16\)/);
  });

  it('build keeps .BTF and targets the host arch', () => {
    const out = path.join(dir, 'fs.o');
    const d = JSON.parse(runCli(['describe', '--json', out]).stdout);
    expect(d.maps.find((m: { name: string }) => m.name === 'print_events').value_type).toBe('struct event');
  });
});
