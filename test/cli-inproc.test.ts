// The in-process CLI the VM tests use (test/helpers.ts cliInProcess, on src/cli/program.ts's
// runCommandLine) against the built CLI started as a process: the same exit status, stdout and
// stderr for each command line, run in an order where one command's global flags (-j, -p) or
// failure could leak into the next.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cli, cliInProcess, fixture } from './helpers.js';

const spawned = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('in-process CLI', () => {
  it('gives what the process gives, command after command', () => {
    const lines: [string[], NodeJS.ProcessEnv?][] = [
      [['-j', 'btf', 'dump', 'file', fixture('maps.bpfel.o')]],
      [['btf', 'dump', 'file', fixture('maps.bpfel.o')]],
      [['-p', 'version']],
      [['version']],
      [['--help']],
      [['prog', '--help']],
      [['nosuch']],
      [['map', 'lisst']],
      [['-j', 'btf', 'dump', 'file', '/nonexistent/x.o']],
      [['btf', 'dump', 'file', '/nonexistent/x.o']],
      [['describe', '--json', fixture('bee_suffix.bpfel.o')]],
      [['describe', fixture('bee_suffix.bpfel.o')]],
      [['gen', 'ts', fixture('maps.bpfel.o')], { LC_ALL: 'C' }],
      [['batch', 'file', '/nonexistent/batch']],
      [['-j', 'batch', 'file']],
    ];
    for (const [args, env] of lines) {
      const ours = cliInProcess(args, env);
      expect(ours, args.join(' ')).toEqual(spawned(args, env));
    }
    // Something ran: not every line is a failure.
    expect(cliInProcess(['version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('sets env for the command only', () => {
    const before = process.env.BEE_TS_DEBUG;
    const r = cliInProcess(['btf', 'dump', 'file', '/nonexistent/x.o'], { BEE_TS_DEBUG: '1' });
    expect(r.stderr).toMatch(/^Error: .*\n\S*Error.*\n\s+at /);
    expect(cliInProcess(['btf', 'dump', 'file', '/nonexistent/x.o']).stderr).not.toMatch(/\n\s+at /);
    expect(process.env.BEE_TS_DEBUG).toBe(before);
  });
});
