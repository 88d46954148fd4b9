// bpftool 7.1 commands bee-ts does not have: a usage mistake (2) that says why, also under
// bpftool's prefixes, and none of them in --help.
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('bpftool commands bee-ts does not have', () => {
  it('exit 2 with the reason, for the full names and prefixes; hidden from --help', () => {
    for (const [args, name] of [
      [['gen', 'subskeleton', 'a.o'], 'gen subskeleton'],
    ] as const) {
      const r = runCli([...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^Error: ${name}: not supported by bee-ts: \\S`));
    }
    expect(runCli(['--help']).stdout).toMatch(/^  batch /m);
    expect(runCli(['gen', '--help']).stdout).not.toMatch(/subskeleton/);
  });
});
