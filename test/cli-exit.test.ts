// One exit-code rule for every command: 0 ok, 1 run-time failure, 2 usage mistake (with a short
// hint, never the whole help). Each command is called once wrongly and once failing for real.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cli, fixture, hasCommand, isRoot, need, runCli, waitUntil } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-exit-'));
const store = ['--storage', path.join(tmp, 'store')];
const NOID = '4000000000';

/** [args, expected status, stderr (or stdout) pattern] */
const USAGE: [string[], RegExp][] = [
  [['nosuchcommand'], /unknown command 'nosuchcommand'/],
  [['run'], /missing required argument 'probe'/],
  [['run', '--bogus-flag', 'x.o'], /unknown option '--bogus-flag'/],
  [['init', '--language', 'Go'], /'Go' is not one of C/],
  [['build'], /missing required argument/],
  [['describe'], /missing required argument/],
  [['btf', 'dump', 'nosuch', 'x'], /expected 'file <path>'/],
  [['btf', 'show', 'name', 'x'], /expected BTF as id N/],
  [['prog', 'show', 'bogus', '1'], /expected PROG as id N/],
  [['prog', 'loadall'], /missing required argument/],
  [['prog', 'load'], /missing required argument/],
  [['prog', 'run', 'id', 'x'], /bad prog id 'x'/],
  [['prog', 'dump', 'xlated', 'id', '1', 'bogus'], /unknown option 'bogus'/],
  [['prog', 'pin', 'id', '1'], /missing FILE/],
  [['prog', 'nosuch'], /unknown command 'nosuch'/],
  [['map', 'create', '/sys/fs/bpf/x'], /'type' is required/],
  [['map', 'show', 'tag', '1'], /expected MAP as id N/],
  [['map', 'dump'], /missing required argument/],
  [['map', 'lookup', 'id', '1'], /map lookup MAP key DATA/],
  [['map', 'peek', 'id', '1', 'bogus'], /unexpected 'bogus'/],
  [['map', 'push', 'id', '1'], /map push MAP value VALUE/],
  [['map', 'pop', 'id', '1', 'x'], /map pop MAP: unexpected 'x'/],
  [['map', 'freeze', 'id', '1', 'x'], /map freeze MAP: unexpected 'x'/],
  [['map', 'update', 'id', '1', 'key', '0'], /map update MAP key DATA value VALUE/],
  [['map', 'delete', 'id', '1'], /map delete MAP key DATA/],
  [['map', 'getnext', 'id', 'x'], /bad map id 'x'/],
  [['map', 'pin', 'id', '1'], /missing FILE/],
  [['net', 'list', 'foo'], /expected 'dev NAME'/],
  [['gen', 'ts'], /missing required argument/],
  [['cgroup', 'show'], /missing required argument/],
  [['cgroup', 'show', '/sys/fs/cgroup', 'bogus'], /expected 'effective'/],
  [['link', 'show', 'name', 'x'], /expected LINK as id N/],
  [['link', 'pin', 'id', '1'], /link pin LINK FILE/],
  [['link', 'detach', 'id', '1', 'extra'], /link detach LINK/],
  [['bench', 'ringbuf', '--size', 'x'], /--size 'x' is not a list of 16, 64 and mixed/],
  [['bench', 'ringbuf', '--rounds', 'x'], /--rounds 'x' is not a number/],
  [['tag', 'onlyone'], /missing required argument/],
  [['push'], /missing required argument/],
  [['pull'], /missing required argument/],
  [['login'], /missing required argument/],
  [['version', 'extra'], /too many arguments/],
  [['feature', 'bogus'], /unknown command 'bogus'|expected 'probe'/],
  [['-p', 'run', 'x.o'], /unknown option '-p'/],
];

describe('exit codes', () => {
  it.each(USAGE)('usage mistake %j exits 2 with a short hint', (args, re) => {
    const r = runCli(args);
    expect(r.status).toBe(2);
    expect(r.stderr + r.stdout).toMatch(re);
    // One error line plus at most a one-line hint, not the whole help.
    expect(r.stderr.trimEnd().split('\n').length).toBeLessThanOrEqual(2);
  });

  const RUNTIME: [string[], RegExp][] = [
    [["describe", "/nonexistent.o"], /\/nonexistent\.o: cannot open the object file: no such file/],
    [['describe', fixture('maps.c')], /malformed ELF/],
    [['gen', 'ts', fixture('maps.c')], /malformed ELF/],
    [['btf', 'dump', 'file', '/nonexistent'], /nonexistent/],
    [['tag', 'nothere:1', 'x:1', ...store], /not in the local store/],
    [['push', 'localhost:1/none:1', ...store], /not in the local store|none/],
  ];
  it.each(RUNTIME)('run-time failure %j exits 1', (args, re) => {
    const r = runCli(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(re);
  });

  // Commands that reach the kernel: an id that does not exist is a run-time failure.
  const KERNEL: string[][] = [
    ['prog', 'show', 'id', NOID],
    ['prog', 'run', 'id', NOID],
    ['prog', 'dump', 'xlated', 'id', NOID],
    ['prog', 'pin', 'id', NOID, '/sys/fs/bpf/none'],
    ['prog', 'loadall', '/nonexistent.o', '/sys/fs/bpf/none'],
    ['prog', 'load', '/nonexistent.o', '/sys/fs/bpf/none'],
    ['map', 'show', 'id', NOID],
    ['map', 'dump', 'id', NOID],
    ['map', 'lookup', 'id', NOID, 'key', '0'],
    ['map', 'update', 'id', NOID, 'key', '0', 'value', '0'],
    ['map', 'delete', 'id', NOID, 'key', '0'],
    ['map', 'getnext', 'id', NOID],
    ['map', 'pin', 'id', NOID, '/sys/fs/bpf/none'],
    ['map', 'peek', 'id', NOID],
    ['map', 'pop', 'id', NOID],
    ['map', 'freeze', 'id', NOID],
    ['map', 'push', 'id', NOID, 'value', '0'],
    ['link', 'show', 'id', NOID],
    ['link', 'pin', 'id', NOID, '/sys/fs/bpf/none'],
    ['link', 'detach', 'id', NOID],
    ['btf', 'show', 'id', NOID],
    ['btf', 'dump', 'id', NOID],
  ];
  it.skipIf(!isRoot).each(KERNEL.map((a) => [a.join(' '), a] as const))('kernel failure `%s` exits 1, with JSON on stdout under -j', (_name, args) => {
    const r = runCli(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*ENOENT|^Error: .*nonexistent/);
    const j = runCli(['-j', ...args]);
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout).error).toMatch(/ENOENT|nonexistent/);
  });

  it('run tells a missing file, C source and an image reference apart', () => {
    const missing = runCli(['run', './nothere']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^Error: \.\/nothere: no such file/);
    expect(missing.stderr).not.toMatch(/https|reach/);
    const abs = runCli(['run', '/nonexistent/dir/probe']);
    expect(abs.stderr).toMatch(/no such file/);
    const c = runCli(['run', fixture('maps.c')]);
    expect(c.status).toBe(2);
    expect(c.stderr).toMatch(/is C source.*bee-ts build .*maps\.c/);
  });

  it.skipIf(need(hasCommand('script'), 'script (util-linux) gives login a terminal'))('login: Ctrl-D at the prompt is a usage error (it exited 13: the answer was awaited forever)', async () => {
    // `script` runs login on a pseudo-terminal; the Ctrl-D goes in once the prompt is out.
    const child = spawn('script', ['-qec', `${process.execPath} ${cli} login 127.0.0.1:1 --plain-http --config-dir ${path.join(tmp, 'cfg-eof')}; echo rc=$?`, '/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.once('exit', r));
    expect(await waitUntil(() => out.includes('Username:'), 60_000)).toBe(true);
    child.stdin.write('\x04');
    await waitUntil(() => /rc=\d+/.test(out), 60_000);
    child.kill('SIGKILL');
    await exited;
    expect(out).toMatch(/Error: login: input ended before 'Username:' was answered \(use -u and --password-stdin\)/);
    expect(/rc=(\d+)/.exec(out)?.[1]).toBe('2');
  });

  it('--help and --version exit 0', () => {
    expect(runCli(['--help']).status).toBe(0);
    const prog = runCli(['prog', '--help']);
    expect(prog.status).toBe(0);
    for (const c of ['tracelog', 'dump', 'loadall']) expect(prog.stdout).toContain(c);
    expect(runCli(['-V']).status).toBe(0);
  });
});
