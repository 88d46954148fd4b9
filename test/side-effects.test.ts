// Importing the library changes nothing in the process: no signal or exit listeners, no native
// addon loaded. Signal handling is opt-in (closeLinksOnSignals, which the CLI calls), and shown
// here to close a live link on SIGINT only when asked.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, needKernel, root } from './helpers.js';

const entry = path.join(root, 'dist', 'index.js');

function node(script: string, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (signal && out.includes('ready\n')) child.kill(signal);
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, out, err });
    });
  });
}

describe('importing bee-ts', () => {
  it('installs no listeners and loads no native addon', async () => {
    const r = await node(`
      const before = ['SIGINT', 'SIGTERM', 'exit', 'beforeExit'].map((e) => process.listenerCount(e));
      const lib = await import(${JSON.stringify(entry)});
      const after = ['SIGINT', 'SIGTERM', 'exit', 'beforeExit'].map((e) => process.listenerCount(e));
      const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ before, after, koffi: /koffi/.test(maps), env: process.env.NODE_TLS_REJECT_UNAUTHORIZED ?? null, api: typeof lib.BpfObject }));
    `);
    expect(r.err).toBe('');
    const seen = JSON.parse(r.out);
    expect(seen.after).toEqual(seen.before);
    expect(seen).toMatchObject({ koffi: false, env: null, api: 'function' });
  });

  it('the scan above would see a native addon (koffi is in /proc/self/maps once a syscall ran)', async () => {
    const r = await node(`
      await import(${JSON.stringify(entry)});
      const { sys } = await import(${JSON.stringify(path.join(root, 'dist', 'syscall', 'backend.js'))});
      sys().numPossibleCpus();
      console.log(/koffi/.test((await import('node:fs')).readFileSync('/proc/self/maps', 'utf8')));
    `);
    expect(r.out.trim()).toBe('true');
  });
});

const skip = needKernel();

describe.skipIf(skip)('closeLinksOnSignals', () => {
  // The child attaches a tracepoint link, then has its own SIGINT listener report whether the
  // link was closed by the time the listener ran.
  const script = (optIn: boolean, ownListener: boolean) => `
    const { BpfObject, closeLinksOnSignals } = await import(${JSON.stringify(entry)});
    ${optIn ? 'closeLinksOnSignals();' : ''}
    const o = BpfObject.open(${JSON.stringify(fixture('attach.bpfel.o'))}).load();
    const l = o.program('count_tp').attach();
    ${ownListener ? "process.on('SIGINT', () => { console.log('closed=' + l.closed); process.exit(0); });" : ''}
    console.log('ready');
    setInterval(() => {}, 1000);
  `;

  it('closes live links on SIGINT when asked, and leaves signals alone when not', async () => {
    const asked = await node(script(true, true), 'SIGINT');
    expect(asked.err).toBe('');
    expect(asked.out).toContain('closed=true');
    const notAsked = await node(script(false, true), 'SIGINT');
    expect(notAsked.out).toContain('closed=false');
  });

  it('with nobody else listening, the signal still terminates the process', async () => {
    const r = await node(script(true, false), 'SIGINT');
    expect(r).toMatchObject({ code: null, signal: 'SIGINT' });
  });
});
