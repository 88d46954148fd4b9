// `prog profile` above the kernel: its arguments as bpftool parses them, its text output against
// bpftool's printf formats (a C peer with bpftool's formats and arithmetic, test/peers/
// profile_print.c, built at test time), its JSON, its exit codes, and the embedded profiler
// object against its source.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS build script
import { buildProfiler, CLANG, profilerInputHash, STRIP } from '../scripts/build-profiler.mjs';
import { fixed, METRICS, parseProfileArgs, parseUnsigned, profileJson, profileText, type Reading, u64ToFloat } from '../src/cli/profile.js';
import { globals } from '../src/cli/format.js';
import { PROFILER_INPUT, PROFILER_OBJECT } from '../src/cli/profiler-object.js';
import { parseObject } from '../src/loader/spec.js';
import { hasCommand, need, root, runCli, thrown } from './helpers.js';

const U64 = (1n << 64n) - 1n;

/** A deterministic generator (xorshift64*), so a failure can be replayed. */
function rng(seed: bigint) {
  let s = seed;
  return () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & U64;
    s ^= s >> 27n;
    return (s * 0x2545f4914f6cdd1dn) & U64;
  };
}

describe('prog profile arguments (bpftool do_profile)', () => {
  it('PROG, duration when more than two words follow, metrics by prefix in bpftool order', () => {
    expect(parseProfileArgs(['id', '5', 'cycles'])).toEqual({ sel: { how: 'id', what: '5' }, duration: 0xffffffff, metrics: [0] });
    expect(parseProfileArgs(['pinned', '/sys/fs/bpf/p', 'duration', '3', 'ins', 'c'])).toMatchObject({ duration: 3, metrics: [0, 1] });
    // `d` abbreviates duration before it could be dtlb_misses; metrics print in table order, once each.
    expect(parseProfileArgs(['name', 'x', 'd', '0x10', 'dtlb', 'l', 'llc', 'dtlb_misses'])).toMatchObject({ duration: 16, metrics: [2, 3, 5] });
    expect(parseProfileArgs(['tag', 'abcd', 'du', '010', 'i', 'it'])).toMatchObject({ sel: { how: 'tag' }, duration: 8, metrics: [1, 4] });
    // Only two words after PROG: `duration` is read as a metric, as bpftool does.
    expect((thrown(() => parseProfileArgs(['id', '5', 'duration', '3'])) as Error).message).toMatch(/unknown metric duration/);
    expect(parseProfileArgs(['id', '5', 'cp'])).toMatchObject({ metrics: [6] });
  });

  it('usage mistakes', () => {
    for (const [args, re] of [
      [['id', '5'], /expected PROG \[duration D\] METRIC/],
      [['id', 'x', 'cycles'], /bad prog id 'x'/],
      [['bogus', '5', 'cycles'], /expected PROG as id N/],
      [['id', '5', 'duration', '1x', 'cycles'], /duration '1x' is not a number of seconds/],
      [['id', '5', 'duration', '-1', 'cycles'], /duration '-1'/],
      [['id', '5', 'duration', '4294967296', 'cycles'], /duration '4294967296'/],
      [['id', '5', 'bogus'], /unknown metric bogus/],
      [['id', '5', 'cy', 'in', 'l1', 'll', 'dt'], /too many \(5\) metrics, please specify no more than 4 metrics at a time/],
    ] as const) {
      const e = thrown(() => parseProfileArgs([...args])) as Error & { code: string };
      expect(e.code, args.join(' ')).toBe('USAGE');
      expect(e.message).toMatch(re);
    }
    expect(parseUnsigned(' 42')).toBe(42n);
    expect(parseUnsigned('0')).toBe(0n);
    expect(parseUnsigned('0X1f')).toBe(31n);
    expect(parseUnsigned('08')).toBeUndefined();
  });

  it('the CLI: usage mistakes exit 2, one line; the command is in --help', () => {
    for (const args of [['prog', 'profile', 'id', '1'], ['prog', 'profile', 'id', '1', 'nosuchmetric'], ['p', 'pro', 'id', '1', 'duration', 'x', 'cycles']]) {
      const r = runCli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^Error: prog profile: /);
      expect(r.stderr.trimEnd().split('\n').length).toBeLessThanOrEqual(2);
    }
    const help = runCli(['prog', '--help']).stdout;
    expect(help).toMatch(/^  profile /m);
    for (const m of METRICS) expect(runCli(['prog', 'profile', '--help']).stdout).toContain(m.name);
  });
});

describe("prog profile output (bpftool's printf formats)", () => {
  it('%.2f as glibc: the exact binary value, ties to even; u64 to float correctly rounded', () => {
    expect(fixed(0.125, 2)).toBe('0.12');
    expect(fixed(0.375, 2)).toBe('0.38');
    expect(fixed(2.675, 2)).toBe('2.67'); // 2.67499999...
    expect(fixed(1e21, 2)).toBe('1000000000000000000000.00');
    expect(fixed(0, 2)).toBe('0.00');
    expect(u64ToFloat((1n << 24n) + 1n)).toBe(16777216);
    expect(u64ToFloat((1n << 24n) + 3n)).toBe(16777220);
    // 2^54 + 2^30 + 1: rounding to double first would land on the float midpoint and round to even.
    const v = (1n << 54n) + (1n << 30n) + 1n;
    expect(u64ToFloat(v)).toBe(2 ** 54 + 2 ** 31);
    expect(Math.fround(Number(v))).toBe(2 ** 54);
    expect(u64ToFloat(U64)).toBe(2 ** 64);
  });

  it('text layout equals the C peer on 3000 random and edge-case readings', () => {
    if (need(hasCommand('cc'), 'a C compiler (cc) builds the printf peer')) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-profile-'));
    try {
      const bin = path.join(dir, 'profile_print');
      execFileSync('cc', ['-O2', '-o', bin, path.join(root, 'test', 'peers', 'profile_print.c')]);
      const next = rng(0x9e3779b97f4a7c15n);
      const pick = (): bigint => {
        const r = next();
        switch (Number(r % 8n)) {
          case 0:
            return 0n;
          case 1:
            return r % 10n;
          case 2:
            return U64 - (r % 3n);
          case 3:
            return (1n << BigInt(Number(r % 64n))) + ((r >> 8n) % 3n) - 1n;
          case 4:
            return r % 100000n;
          default:
            return r >> BigInt(Number(r % 60n));
        }
      };
      const cases: { runCnt: bigint; readings: Map<number, Reading> }[] = [];
      // Ties for %.2f (0.125, 0.375: exactly representable) and the multiplexing share.
      cases.push({ runCnt: 8n, readings: new Map([[0, { counter: 8n, enabled: 8n, running: 1n }], [1, { counter: 1n, enabled: 2n, running: 2n }]]) });
      cases.push({ runCnt: 0n, readings: new Map([[0, { counter: 8n, enabled: 0n, running: 0n }], [1, { counter: 3n, enabled: 1n, running: 0n }], [3, { counter: 3n, enabled: 5n, running: 4n }]]) });
      cases.push({ runCnt: U64, readings: new Map([[1, { counter: U64, enabled: U64, running: U64 - 1n }], [5, { counter: U64, enabled: 1n, running: 0n }], [6, { counter: 123n, enabled: 0n, running: 0n }]]) });
      for (let i = 0; i < 3000; i++) {
        const readings = new Map<number, Reading>();
        const n = 1 + Number(next() % 4n);
        while (readings.size < n) readings.set(Number(next() % BigInt(METRICS.length)), { counter: pick(), enabled: pick(), running: pick() });
        cases.push({ runCnt: pick(), readings });
      }
      const input = cases
        .map((c) => [c.runCnt, ...METRICS.flatMap((_, m) => { const r = c.readings.get(m); return r ? [r.counter, r.enabled, r.running, 1] : [0, 0, 0, 0]; })].join(' '))
        .join('\n');
      const peer = execFileSync(bin, { input, encoding: 'utf8', maxBuffer: 1 << 26 }).split('--\n');
      expect(peer.length).toBe(cases.length + 1);
      let ratios = 0;
      let shares = 0;
      cases.forEach((c, i) => {
        const ours = profileText(c.runCnt, c.readings);
        expect(ours, `case ${i}`).toBe(peer[i]);
        if (ours.includes('# ')) ratios++;
        if (ours.includes('%)')) shares++;
      });
      // The cases exercise both optional columns.
      expect(ratios).toBeGreaterThan(300);
      expect(shares).toBeGreaterThan(300);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one known printout, column by column', () => {
    const r = new Map<number, Reading>([
      [0, { counter: 2000n, enabled: 10n, running: 5n }],
      [1, { counter: 3000n, enabled: 10n, running: 10n }],
      [3, { counter: 3n, enabled: 10n, running: 10n }],
    ]);
    expect(profileText(10n, r)).toBe(
      '\n' +
        '                10 run_cnt             \n' +
        `              2000 ${'cycles'.padEnd(20)}${' '.repeat(41)}(50.00%)\n` +
        '              3000 instructions        #     1.50 insns per cycle               \n' +
        '                 3 llc_misses          #  1000.00 LLC misses per million insns  \n',
    );
  });

  it('JSON: an array of {metric, run_cnt, value, enabled, running}; -p as bpftool json_writer', () => {
    const r = new Map<number, Reading>([
      [1, { counter: 7n, enabled: 9n, running: 8n }],
      [0, { counter: 18446744073709551615n, enabled: 1n, running: 1n }],
    ]);
    expect(profileJson(3n, r)).toBe('[{"metric":"cycles","run_cnt":3,"value":18446744073709551615,"enabled":1,"running":1},{"metric":"instructions","run_cnt":3,"value":7,"enabled":9,"running":8}]\n');
    globals.pretty = true;
    try {
      expect(profileJson(3n, new Map([[1, { counter: 7n, enabled: 9n, running: 8n }], [6, { counter: 1n, enabled: 2n, running: 2n }]]))).toBe(
        '[{\n' +
          '        "metric": "instructions",\n' +
          '        "run_cnt": 3,\n' +
          '        "value": 7,\n' +
          '        "enabled": 9,\n' +
          '        "running": 8\n' +
          '    },{\n' +
          '        "metric": "cpu_clock",\n' +
          '        "run_cnt": 3,\n' +
          '        "value": 1,\n' +
          '        "enabled": 2,\n' +
          '        "running": 2\n' +
          '    }\n' +
          ']\n',
      );
    } finally {
      globals.pretty = false;
    }
  });
});

describe('the embedded profiler object', () => {
  it('matches its source (run `node scripts/build-profiler.mjs` if not), and has the programs and maps the command uses', () => {
    expect(profilerInputHash(), 'src/cli/profiler.bpf.c or a header changed since profiler-object.ts was built').toBe(PROFILER_INPUT);
    const spec = parseObject(Buffer.from(PROFILER_OBJECT, 'base64'));
    expect(spec.programs.map((p) => [p.name, p.section]).sort()).toEqual([['profile_entry', 'fentry/profiled'], ['profile_exit', 'fexit/profiled']]);
    expect(spec.maps.map((m) => m.name).sort()).toEqual(expect.arrayContaining(['entry_values', 'events', 'runs', 'sums']));
  });

  it('rebuilding with clang-16 reproduces it byte for byte', () => {
    if (need(hasCommand(CLANG) && hasCommand(STRIP), `${CLANG}/${STRIP} not installed (apt-get install clang-16 llvm-16)`)) return;
    expect((buildProfiler() as Buffer).toString('base64')).toBe(PROFILER_OBJECT);
  });
});
