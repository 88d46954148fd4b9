import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { dumpC } from '../src/btf/cdump.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind } from '../src/btf/types.js';
import { cli, fixture, hasCommand, need, root, runCli } from './helpers.js';

describe('bee-ts CLI (kernel-free commands)', () => {
  it('--help lists the commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['describe', 'btf']) expect(r.stdout).toContain(c);
  });

  it('the bin is dist/cli/main.cjs, and node dist/cli/main.js runs the same command line', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
    expect(pkg.bin['bee-ts']).toBe('dist/cli/main.cjs');
    for (const entry of ['dist/cli/main.cjs', 'dist/cli/main.js']) {
      // --version and -V alone print without the command tree (start.ts); with another word the tree prints them.
      for (const line of [['--version'], ['-V'], ['-j', '--version']]) {
        const r = spawnSync(process.execPath, [path.join(root, entry), ...line], { encoding: 'utf8' });
        expect([entry, line, r.status, r.stdout, r.stderr]).toEqual([entry, line, 0, `${pkg.version}\n`, '']);
      }
      const bad = spawnSync(process.execPath, [path.join(root, entry), 'prog', 'frobnicate'], { encoding: 'utf8' });
      expect([entry, bad.status]).toEqual([entry, 2]);
    }
  });

  it('the bundled chunks are ASCII (a non-ASCII character made V8 decode a whole chunk into a two-byte string) and keep their non-ASCII text', () => {
    const dir = path.join(root, 'dist', 'cli');
    const chunks = fs.readdirSync(dir).filter((f) => /^(start|chunk-.*)\.cjs$/.test(f));
    if (!chunks.length) return; // an unbundled build (no rolldown)
    expect(chunks.filter((f) => /[^\x00-\x7f]/.test(fs.readFileSync(path.join(dir, f), 'latin1')))).toEqual([]);
    // `k8s --help` has an apostrophe (U+2019) from its source, escaped in the chunk.
    expect(runCli(['k8s', '--help']).stdout).toContain('repository\u2019s');
  });

  it('stdout written directly (fd 1 before process.stdout exists): a file gets what a pipe gets, and a closed pipe ends the command with 0', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-cli-stdout-${process.pid}-`));
    try {
      const file = path.join(dir, 'help.txt');
      const fd = fs.openSync(file, 'w');
      const toFile = spawnSync(process.execPath, [cli, '--help'], { stdio: ['ignore', fd, 'pipe'] });
      fs.closeSync(fd);
      const toPipe = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
      expect([toFile.status, toPipe.status]).toEqual([0, 0]);
      expect(toPipe.stdout).toMatch(/^Usage: bee-ts /);
      expect(fs.readFileSync(file, 'utf8')).toBe(toPipe.stdout);
      // Megabytes of C into a pipe its reader closes after 100 bytes: EPIPE is a quiet exit 0.
      const vmlinux = '/sys/kernel/btf/vmlinux';
      if (fs.existsSync(vmlinux)) {
        const closed = spawnSync('bash', ['-c', `"${process.execPath}" "${cli}" btf dump file ${vmlinux} format c | head -c 100 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
        expect([closed.stdout.trim(), closed.stderr]).toEqual(['rc=0', '']);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("describe shows a bee .maps.print object's programs, roles and globals", () => {
    const r = runCli(['describe', fixture('bee_suffix.bpfel.o')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/on_open\s+tracepoint\/syscalls\/sys_enter_openat\s+tracepoint/);
    expect(r.stdout).toMatch(/events\s+ringbuf\s+0\s+0 \(struct event_t\).*print \(suffix\)/);
    expect(r.stdout).toMatch(/sockets_counter\s+hash\s+8 \(struct dimensions_t\)\s+8 \(u64\).*counter \(suffix\)/);
    expect(r.stdout).toMatch(/\.rodata\s+target_pid\s+const volatile u32/);
    expect(r.stdout).toMatch(/\.bss\s+seen\s+u64/);
  });

  it('describe --json', () => {
    const r = runCli(['describe', '--json', fixture('bee_suffix.bpfel.o')]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.programs).toEqual([expect.objectContaining({ name: 'on_open', type: 'tracepoint', section: 'tracepoint/syscalls/sys_enter_openat' })]);
    expect(j.maps.find((m: { name: string }) => m.name === 'events')).toMatchObject({ type: 'ringbuf', role: 'print', role_source: 'suffix', value_type: 'struct event_t' });
    expect(j.globals.map((g: { name: string }) => g.name).sort()).toEqual(['seen', 'target_pid']);
  });

  it('describe names the map at fault and exits non-zero', () => {
    const r = runCli(['describe', fixture('bad_role.bpfel.o')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: .*bad_role\.bpfel\.o: map 'counter_conflict': name prefix says 'counter'/);
    const j = runCli(['describe', '--json', fixture('bad_role.bpfel.o')]);
    expect(j.status).toBe(1);
    expect(JSON.parse(j.stdout).error).toMatch(/counter_conflict/);
  });

  it('describe rejects a file that is not a BPF object', () => {
    const r = runCli(['describe', fixture('maps.c')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/maps\.c: malformed ELF: bad magic/);
    const missing = runCli(['describe', '/nonexistent.o']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/\/nonexistent\.o: cannot open the object file: no such file/);
  });

  it('btf dump file <obj> format raw|c, and usage errors', () => {
    const raw = runCli(['btf', 'dump', 'file', fixture('maps.bpfel.o')]);
    expect(raw.status).toBe(0);
    expect(raw.stdout).toMatch(/^\[1\] /);
    expect(raw.stdout).toContain("STRUCT 'key_t' size=20 vlen=2");
    const c = runCli(['btf', 'dump', 'file', fixture('maps.bpfel.o'), 'format', 'c']);
    expect(c.status).toBe(0);
    expect(c.stdout).toContain('struct key_t {');
    const bad = runCli(['btf', 'dump', 'file', fixture('maps.bpfel.o'), 'format', 'xml']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('format must be raw or c');
  });

  it('btf dump file /sys/kernel/btf/vmlinux lists the same ids and kinds as bpftool', () => {
    if (need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'no kernel BTF')) return;
    if (need(hasCommand('bpftool'), 'bpftool is not installed')) return;
    const ours = runCli(['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux']);
    expect(ours.status).toBe(0);
    const theirs = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const heads = (s: string) => s.split('\n').filter((l) => l.startsWith('['));
    expect(heads(ours.stdout).length).toBe(heads(theirs).length);
    expect(ours.stdout === theirs).toBe(true);
  });

  it('btf dump file vmlinux format c: the CLI (bytes to stdout in chunks) writes exactly what dumpC() returns', () => {
    if (need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'no kernel BTF')) return;
    const ours = runCli(['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c']);
    expect(ours.status).toBe(0);
    const chunks: string[] = [];
    dumpC(parseBtf(fs.readFileSync('/sys/kernel/btf/vmlinux')), (s) => chunks.push(s));
    const lib = chunks.join('');
    expect(ours.stdout.length).toBe(lib.length);
    expect(ours.stdout === lib).toBe(true);
  });

  it('btf dump writes UTF-8 names as their bytes, as bpftool does (raw), and whole in C', () => {
    const types = [
      { kind: BtfKind.Void, id: 0, name: '' },
      { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { kind: BtfKind.Struct, id: 2, name: 'caf\u00e9_\u03bb', size: 4, kflag: false, members: [{ name: 'na\u00efve', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
    ] as unknown as Parameters<typeof encodeBtf>[0];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-cli-utf8-${process.pid}-`));
    try {
      const file = path.join(dir, 'utf8.btf');
      fs.writeFileSync(file, encodeBtf(types));
      const raw = spawnSync(process.execPath, [`${root}/dist/cli/main.js`, 'btf', 'dump', 'file', file]);
      expect(raw.status).toBe(0);
      expect(raw.stdout.toString('utf8')).toContain("STRUCT 'caf\u00e9_\u03bb' size=4 vlen=1\n\t'na\u00efve' type_id=1");
      if (hasCommand('bpftool')) expect(raw.stdout.equals(execFileSync('bpftool', ['btf', 'dump', 'file', file]))).toBe(true);
      const c = runCli(['btf', 'dump', 'file', file, 'format', 'c']);
      expect(c.stdout).toContain('struct caf\u00e9_\u03bb {\n\tint na\u00efve;\n};');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bench/btf prints bee-ts and bpftool times from one run', () => {
    if (need(hasCommand('bpftool'), 'bpftool is not installed')) return;
    if (need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'no kernel BTF')) return;
    const out = execFileSync(process.execPath, [`${root}/bench/btf.mjs`, '--runs', '1', '--warmup', '0', '--json'], { encoding: 'utf8' });
    const j = JSON.parse(out);
    expect(j.rows.map((r: { command: string }) => r.command)).toEqual(['bee-ts raw', 'bpftool raw', 'bee-ts c', 'bpftool c']);
    for (const r of j.rows) {
      expect(r.wall).toBeGreaterThan(0);
      // wait4's rusage in µs: any process uses some CPU (GNU time's 10 ms steps often said 0).
      expect(r.cpu).toBeGreaterThan(0);
      expect(r.rssMiB).toBeGreaterThan(0);
    }
    expect(j.inProcessMs['bee-ts'].parse).toBeGreaterThan(0);
  });

  it('bench/startup prints bee-ts, node -e 0 and bpftool start-up times from one run', () => {
    if (need(hasCommand('gcc'), 'gcc is not installed (bench/rusage.c)')) return;
    const out = execFileSync(process.execPath, [`${root}/bench/startup.mjs`, '--runs', '1', '--warmup', '0', '--json'], { encoding: 'utf8' });
    const j = JSON.parse(out);
    const names = j.rows.map((r: { command: string }) => r.command);
    expect(names).toEqual(expect.arrayContaining(['node -e 0', 'bee-ts --help', 'bee-ts --version']));
    if (process.getuid?.() === 0) expect(names).toEqual(expect.arrayContaining(['bee-ts prog list', 'bee-ts prog show', 'bee-ts map list']));
    if (hasCommand('bpftool')) expect(names).toEqual(expect.arrayContaining(['bpftool help', ...(process.getuid?.() === 0 ? ['bpftool prog list', 'bpftool map list'] : [])]));
    for (const r of j.rows) {
      expect(r.wallMs).toBeGreaterThan(0);
      expect(r.cpuMs).toBeGreaterThan(0);
    }
  });

  it("bench/lib's timed() reports a command's own CPU (user+sys), peak RSS and exit status from wait4", async () => {
    if (need(hasCommand('gcc'), 'gcc is not installed (bench/rusage.c)')) return;
    const { timed } = await import(`${root}/bench/lib.mjs`);
    // A child that spins until it has used 300 ms of CPU of its own and exits 3: its rusage holds at least that.
    const spin = 'const t=process.cpuUsage();for(;;){const u=process.cpuUsage(t);if(u.user+u.system>=300000)break}process.exit(3)';
    const r = timed('spin', [process.execPath, '-e', spin], [3]);
    expect(r.cpu).toBeGreaterThanOrEqual(300);
    expect(r.wall).toBeGreaterThanOrEqual(r.cpu / 2);
    expect(r.rssMiB).toBeGreaterThan(10);
    expect(() => timed('spin', [process.execPath, '-e', spin])).toThrow(/spin exited 3/);
  });

  it.each(['dist/lib/index.js', 'dist/index.js'])('the library entry point %s exports the public API', async (entry) => {
    const m = await import(`${root}/${entry}`);
    for (const name of ['BpfObject', 'BpfMap', 'RingBufReader', 'PerfBufReader', 'parseObject', 'parseBtf', 'dumpC', 'BpfError', 'VerifierError', 'BaseLink', 'CoreRelocKind'])
      expect(m[name], name).toBeDefined();
    // Internals are not exported (etc/bee-ts.api.md is the whole surface; test/api.test.ts).
    for (const name of ['parseElf', 'attachProgram', 'compileCodec', 'compileDecoder', 'attachIter', 'attachStructOps'])
      expect(m[name], name).toBeUndefined();
  });
});
