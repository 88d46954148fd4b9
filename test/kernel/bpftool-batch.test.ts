// `batch file FILE|-` side by side with bpftool 7.1: the same batch files (comments, quotes,
// continuation lines, prefixes, map state changed and restored, a nested batch, a failing command,
// the batch file's own mistakes) give the same stdout and stderr, text, -j and -p.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');

const both = (args: string[], input?: string) => {
  const peer = spawnSync('bpftool', args, { encoding: 'utf8', input, maxBuffer: 1 << 26 });
  // With `input` (batch file -) a child process; otherwise in-process in the VMs (runCli).
  const ours = runCli(args, { input });
  return { peer, ours };
};

describe.skipIf(skip)('batch file', () => {
  const pins = `/sys/fs/bpf/bee-batch-${process.pid}`;
  let dir = '';
  const file = (name: string, text: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text);
    return p;
  };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-batch-'));
    fs.rmSync(pins, { recursive: true, force: true });
    fs.mkdirSync(pins);
    const r = spawnSync('bpftool', ['prog', 'loadall', fixture('bpftool_show.bpfel.o'), `${pins}/p`, 'pinmaps', `${pins}/m`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
  });
  afterAll(() => {
    fs.rmSync(pins, { recursive: true, force: true });
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const m = (name: string) => `${pins}/m/${name}`;
  // Every command here is one whose output bee-ts has identical to bpftool's; state changes are undone.
  // (Not `btf dump file`: after it bpftool 7.1 ends the batch with 'reading batch file failed: Bad
  // file descriptor', a stale errno do_batch takes for a read error.)
  const script = () => `# a comment line, then an empty one

prog show pinned ${pins}/p/show_me
map show pinned ${m('char_keys')}   # trailing comment
  map   update pinned "${m('char_keys')}" key 1 0 0 0 value 5 0 0 0
map lookup pinned '${m('char_keys')}' key \\
   1 0 0 0
map dump pinned ${m('char_keys')}
map push pinned ${m('fifo')} value 7 0 0 0
map peek pinned ${m('fifo')}
m pop pinned ${m('fifo')}
map delete pinned ${m('char_keys')} key 1 0 0 0
map dump pinned ${m('per_cpu')}
m s pinned ${m('lifo')}
btf show id 1
`;

  it('runs every line: the same stdout as bpftool, text, -j and -p; "processed N commands"', () => {
    const f = file('ok.txt', script());
    for (const flags of [[], ['-j'], ['-p']]) {
      const { peer, ours } = both([...flags, 'batch', 'file', f]);
      expect(peer.status, peer.stderr).toBe(0);
      expect(ours.stderr).toBe('');
      expect(ours.status).toBe(0);
      expect(ours.stdout).toBe(peer.stdout);
      if (flags.length) expect(JSON.parse(ours.stdout)).toHaveLength(12);
      else expect(ours.stdout.endsWith('processed 12 commands\n')).toBe(true);
    }
    // From stdin, and with `file` abbreviated, and a batch inside the batch.
    const { peer, ours } = both(['-j', 'batch', 'f', '-'], `map show pinned ${m('fifo')}\nbatch file ${f}\n`);
    expect(peer.status).toBe(0);
    expect(ours.stdout).toBe(peer.stdout);
    expect(JSON.parse(ours.stdout)[1].output).toHaveLength(12);
  });

  it('stops at the first failing command: what ran before, then its error; non-zero exit', () => {
    const f = file('fail.txt', `map show pinned ${m('lifo')}\nmap lookup pinned ${m('char_keys')} key 9 0 0 0\nmap show pinned ${m('fifo')}\n`);
    for (const flags of [[], ['-j'], ['-p']]) {
      const { peer, ours } = both([...flags, 'batch', 'file', f]);
      expect(peer.status).not.toBe(0);
      expect(ours.status).toBe(1);
      expect(ours.stdout).toBe(peer.stdout);
      expect(ours.stdout).not.toMatch(/"fifo"|name fifo|processed/);
      expect(ours.stderr).toBe(peer.stderr);
    }
  });

  it("the batch file's own mistakes: bpftool's messages with the command number, text and JSON", () => {
    const cases = [
      file('quote.txt', `map show pinned ${m('lifo')}\nmap show pinned "${m('lifo')}\n`),
      file('cont.txt', `map show pinned ${m('lifo')}\nmap show \\\n`),
      file('comments.txt', '# nothing\n\n   \t\n'),
      file('empty.txt', ''),
      file('glued.txt', `map\t"show"pinned ${m('lifo')} # quoted word glued to the next\n`),
    ];
    for (const f of cases) {
      for (const flags of [[], ['-j'], ['-p']]) {
        const { peer, ours } = both([...flags, 'batch', 'file', f]);
        expect(ours.stdout, `${flags} ${f}`).toBe(peer.stdout);
        expect(ours.stderr, `${flags} ${f}`).toBe(peer.stderr);
        expect(ours.status === 0, `${flags} ${f}`).toBe(peer.status === 0);
      }
    }
    expect(both(['batch', 'file', cases[0]!]).ours.stderr).toBe('Error: unterminated quoted string in command 1\n');
    // Usage mistakes exit 2 (bpftool: 255), with bpftool's messages.
    for (const args of [['batch'], ['batch', 'foo', 'x'], ['batch', 'file', 'a', 'b'], ['-j', 'batch', 'file']]) {
      const { peer, ours } = both(args);
      expect(ours.status, args.join(' ')).toBe(2);
      expect(ours.stderr + ours.stdout).toBe(peer.stderr + peer.stdout);
    }
    const { peer, ours } = both(['batch', 'file', path.join(dir, 'nothere')]);
    expect(ours.status).toBe(1);
    expect(ours.stderr).toBe(peer.stderr);
    // A line that is not a bpftool command is refused (bpftool prints its usage), exit 2.
    const bee = runCli(['batch', 'file', '-'], { input: 'run x.o\n' });
    expect(bee.status).toBe(2);
    expect(bee.stderr).toMatch(/^Error: 'run' is not a bpftool command/);
  });
});
