// Test inputs nobody here wrote, fetched at test time from Debian (which CI reaches) with apt-get
// into a root-only cache outside the repo: the 6.1 and 6.12 kernel images the VM tests boot
// (their vmlinux BTF, one module's split BTF) and bpftool 7.5 from bookworm-backports (the
// newest bpftool Debian builds for bookworm: it writes kfunc prototypes, 7.1 does not).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CACHE = path.join(process.env.BEE_TEST_CACHE ?? '/var/cache/bee-ts', 'headers');

function privateDir(d: string): string {
  fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(d);
  if (!st.isDirectory() || st.uid !== process.getuid!()) throw new Error(`${d}: not a directory of this user`);
  return d;
}

/** apt-get with a private source list (bookworm + bookworm-backports) and private state. */
function apt(tool: 'apt-get' | 'apt-cache', args: string[], cwd?: string): string {
  const dir = privateDir(path.join(CACHE, 'apt'));
  const list = path.join(dir, 'sources.list');
  const want = 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n';
  if (!fs.existsSync(list) || fs.readFileSync(list, 'utf8') !== want) {
    fs.writeFileSync(list, want);
    fs.rmSync(path.join(dir, 'updated'), { force: true });
    fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'archives', 'partial'), { recursive: true });
  }
  const o = ['-o', `Dir::Etc::SourceList=${list}`, '-o', 'Dir::Etc::SourceParts=/nonexistent', '-o', `Dir::State::Lists=${path.join(dir, 'lists')}`, '-o', `Dir::Cache::Archives=${path.join(dir, 'archives')}`, '-o', 'APT::Sandbox::User=root'];
  if (tool === 'apt-get' && args[0] !== 'update' && !fs.existsSync(path.join(dir, 'updated'))) {
    execFileSync('apt-get', [...o, '-q', 'update'], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(dir, 'updated'), '');
  }
  if (tool === 'apt-cache' && !fs.existsSync(path.join(dir, 'updated'))) apt('apt-get', ['check']);
  return execFileSync(tool, [...o, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
}

/** Download (once) the newest package matching `re` and unpack it; returns the unpacked root. */
function unpack(key: string, search: string, re: RegExp, version?: RegExp): string {
  const out = path.join(CACHE, key);
  if (fs.existsSync(path.join(out, '.done'))) return out;
  const names = apt('apt-cache', ['search', '--names-only', search]).split('\n').map((l) => l.split(' ')[0]!).filter((n) => re.test(n));
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const pkg = names.pop();
  if (!pkg) throw new Error(`no Debian package matches ${re}`);
  let spec = pkg;
  if (version) {
    const v = apt('apt-cache', ['madison', pkg]).split('\n').map((l) => l.split('|')[1]?.trim() ?? '').find((x) => version.test(x));
    if (!v) throw new Error(`no version of ${pkg} matches ${version}`);
    spec = `${pkg}=${v}`;
  }
  const dl = privateDir(path.join(CACHE, 'dl'));
  for (const f of fs.readdirSync(dl)) if (f.startsWith(`${pkg}_`)) fs.rmSync(path.join(dl, f));
  apt('apt-get', ['-q', 'download', spec], dl);
  const deb = fs.readdirSync(dl).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${spec} left no .deb`);
  fs.rmSync(out, { recursive: true, force: true });
  privateDir(out);
  execFileSync('dpkg-deb', ['-x', path.join(dl, deb), out]);
  fs.writeFileSync(path.join(out, '.done'), `${spec}\n`);
  return out;
}

/** The ELF vmlinux inside a bzImage: decompressed from the first xz/zstd/gzip stream in it. */
export function extractVmlinux(vmlinuz: string, out: string): void {
  const img = fs.readFileSync(vmlinuz);
  const magics: [string, Buffer][] = [
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
    ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
    ['gzip', Buffer.from([0x1f, 0x8b, 0x08])],
  ];
  for (const [tool, magic] of magics.map(([t, m]) => [t, m, img.indexOf(m)] as const).filter((x) => x[2] >= 0).sort((a, b) => a[2] - b[2]).map(([t, m]) => [t, m] as const)) {
    const r = spawnSync(tool, ['-dcq'], { input: img.subarray(img.indexOf(magic)), maxBuffer: 1 << 30 });
    if (r.stdout && r.stdout.length > 4 && r.stdout.readUInt32BE(0) === 0x7f454c46) {
      fs.writeFileSync(out, r.stdout);
      return;
    }
  }
  throw new Error(`${vmlinuz}: no compressed ELF kernel found`);
}

export interface DebianKernel {
  release: string;
  /** ELF vmlinux (with .BTF). */
  vmlinux: string;
  /** nf_conntrack.ko (split BTF on top of vmlinux). */
  module: string;
}

export function debianKernel(series: '6.1' | '6.12'): DebianKernel {
  const root = series === '6.1' ? unpack('k6.1', '^linux-image-6.1.0-[0-9]+-amd64-unsigned$', /^linux-image-6\.1\.0-\d+-amd64-unsigned$/) : unpack('k6.12', '^linux-image-6.12.[0-9.]+.deb12-amd64-unsigned$', /^linux-image-6\.12\.[\d.]+\+deb12-amd64-unsigned$/);
  const boot = path.join(root, 'boot');
  const vmlinuz = fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))!;
  const release = vmlinuz.slice('vmlinuz-'.length);
  const vmlinux = path.join(root, 'vmlinux');
  if (!fs.existsSync(vmlinux)) extractVmlinux(path.join(boot, vmlinuz), vmlinux);
  const module = path.join(root, 'nf_conntrack.ko');
  if (!fs.existsSync(module)) {
    const rel = path.join(root, 'lib', 'modules', release, 'kernel', 'net', 'netfilter');
    const f = fs.readdirSync(rel).find((x) => /^nf_conntrack\.ko(\.xz|\.zst)?$/.test(x))!;
    const src = path.join(rel, f);
    if (f.endsWith('.xz')) fs.writeFileSync(module, execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 28 }));
    else if (f.endsWith('.zst')) fs.writeFileSync(module, execFileSync('zstd', ['-dcq', src], { maxBuffer: 1 << 28 }));
    else fs.copyFileSync(src, module);
  }
  return { release, vmlinux, module };
}

/** bpftool 7.5 (bookworm-backports), unpacked; runs on bookworm. */
export function bpftool75(): string {
  return path.join(unpack('bpftool75', '^bpftool$', /^bpftool$/, /^7\.5\./), 'usr', 'sbin', 'bpftool');
}

/** Where, inside linux-source-6.1, the BPF programs of the compile corpus live. */
export const CORPUS_DIRS = ['tools/testing/selftests/bpf', 'tools/perf/util/bpf_skel', 'tools/bpf/runqslower', 'tools/bpf/bpftool/skeleton', 'samples/bpf'];

/** Debian's linux-source-6.1 (the kernel's own BPF programs), only CORPUS_DIRS extracted. */
export function linuxSource(): string {
  const out = path.join(CACHE, 'linux-source-6.1');
  if (fs.existsSync(path.join(out, '.done'))) return out;
  const pkgRoot = unpack('linux-source-deb', '^linux-source-6.1$', /^linux-source-6\.1$/);
  const tarball = path.join(pkgRoot, 'usr', 'src', 'linux-source-6.1.tar.xz');
  const tmp = fs.mkdtempSync(path.join(CACHE, 'src-'));
  try {
    execFileSync('tar', ['-xJf', tarball, '-C', tmp, '--no-same-owner', ...CORPUS_DIRS.map((d) => `linux-source-6.1/${d}`)], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, 'linux-source-6.1'), out);
    fs.writeFileSync(path.join(out, '.done'), '');
    fs.rmSync(pkgRoot, { recursive: true, force: true });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
