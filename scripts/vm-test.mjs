#!/usr/bin/env node
// `npm run test:vm`: run the files test/vm-matrix.ts lists (test/vm/ and most of test/kernel/)
// inside Debian's kernels under QEMU (this host's kernel has no kprobes): 6.1 (bookworm's own) and
// 6.12 (bookworm's backport: fprobe, TCX, netkit, sessions), one boot each, both at once.
// BEE_VM_KERNEL=6.1 or 6.12 boots only that one; BEE_VM_SERIAL=1 boots them one after the other;
// BEE_VM_INCLUDE=a,b runs other files. The host's / is shared read-only over 9p; a busybox
// initramfs loads the 9p modules, mounts proc/sys/dev/tmpfs/tracefs/bpffs/cgroup2 inside it,
// chroots and runs vitest. The VM's exit status comes back on the serial console. At the end of
// each boot the runner prints QEMU's CPU seconds, in all and per test file (read from
// /proc/<qemu>/stat at each console line that names a file).
// For measurements: BEE_VM_COMMAND runs that shell command in the chroot instead of the suite;
// BEE_VM_ACCEL, BEE_VM_CPU, BEE_VM_MEM, BEE_VM_SMP change QEMU's -accel, -cpu, -m, -smp.
// Needs: qemu-system-x86, busybox-static, cpio, gcc, and apt access to linux-image-6.1.0-*-amd64.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on Linux). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const work = path.join(root, '.vm');
/**
 * The kernels: which Debian package, where it is unpacked, and the modules the init loads (in
 * order). 6.1: virtio as modules; sch_ingress + cls_bpf for TC's clsact qdisc and bpf filter, which
 * the host's module tree cannot autoload here; cls_matchall + act_bpf for TC actions. 6.12: virtio
 * built in, modules as .ko.xz. Both: veth and tun for the tests' veth pairs and tap devices, cls_bpf for netlink TC filters, inet_diag + tcp_diag for `ss -i` (tcp_info over sock_diag: without them ss falls back to /proc/net/tcp, which has no bytes_sent). (No lirc_mode2 in either: Debian builds rc-core as a module, and
 * CONFIG_BPF_LIRC_MODE2 needs it built in.)
 */
const KERNELS = {
  '6.1': {
    pattern: '^linux-image-6.1.0-[0-9]+-amd64-unsigned$',
    dir: 'kernel',
    modules: ['virtio_ring', 'virtio', 'virtio_pci_modern_dev', 'virtio_pci_legacy_dev', 'virtio_pci', 'netfs', 'fscache', '9pnet', '9pnet_virtio', '9p', 'sch_ingress', 'cls_bpf', 'cls_matchall', 'act_bpf', 'veth', 'tun', 'inet_diag', 'tcp_diag'],
  },
  '6.12': {
    pattern: '^linux-image-6.12.[0-9]+[+]deb12-amd64-unsigned$',
    dir: 'kernel-6.12',
    modules: ['netfs', '9pnet', '9pnet_virtio', '9p', 'sch_ingress', 'cls_bpf', 'cls_matchall', 'act_bpf', 'veth', 'tun', 'inet_diag', 'tcp_diag'],
  },
};
/**
 * Guards, so a VM that hangs fails clearly instead of eating CI's budget: each boot is killed after
 * BEE_VM_TIMEOUT_MS (default 60 min, both boots run at once; with every file test/vm-matrix.ts
 * lists a boot is about 1450-1600 s of QEMU CPU, 25-27 min on a quiet 2-core host and about 35 on
 * CI's ~1.3x slower one, see README "Tests"; 60 min and npm test's ~16 stay inside CI's 90), or after BEE_VM_IDLE_MS (default 10 min) with no console output at all (every test
 * prints a line when it ends; the slowest measured at host load 20 took about 4 min).
 */
const TIMEOUT_MS = Number(process.env.BEE_VM_TIMEOUT_MS ?? 60 * 60 * 1000);
const IDLE_MS = Number(process.env.BEE_VM_IDLE_MS ?? 10 * 60 * 1000);

/**
 * The C builds the VM files make (clang-16 objects, gcc peers and test programs; test/vm-prebuild.ts
 * lists them) run here on the host before the boot, through the same builder the tests call
 * (test/build-cache.ts), into its private cache (/var/cache/bee-ts/build), which the VM reads over
 * 9p and checks (key, every input's bytes) before use (gcc under TCG took 142 s of CPU for the
 * USDT program's two builds). Loaded through Vite's module runner (the tests are TypeScript; vite
 * comes with vitest).
 */
async function prebuild(vmlinuz) {
  const started = Date.now();
  const { runnerImport } = await import('vite');
  const { module } = await runnerImport(path.join(root, 'test', 'vm-prebuild.ts'), { root, configFile: false, logLevel: 'silent', oxc: { target: 'node20' } });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-vm-prebuild-'));
  try {
    module.prebuildForVm(tmp, vmlinuz);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.error(`test:vm: host-side builds ready in ${Math.round((Date.now() - started) / 1000)}s`);
}

function need(cmd, pkg) {
  if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) {
    console.error(`test:vm needs ${cmd} (apt-get install ${pkg})`);
    process.exit(2);
  }
}

function ensureKernel(k) {
  fs.mkdirSync(work, { recursive: true });
  const kdir = path.join(work, k.dir);
  if (!fs.existsSync(path.join(kdir, 'boot'))) {
    const list = execFileSync('apt-cache', ['search', '--names-only', k.pattern], { encoding: 'utf8' });
    const pkgs = list.split('\n').map((l) => l.split(' ')[0]).filter(Boolean).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const pkg = pkgs.pop();
    if (!pkg) throw new Error(`no package matching ${k.pattern} in apt (run apt-get update)`);
    console.error(`test:vm: downloading ${pkg}`);
    execFileSync('apt-get', ['download', pkg], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    const deb = fs.readdirSync(work).find((f) => f.startsWith(pkg) && f.endsWith('.deb'));
    execFileSync('dpkg', ['-x', path.join(work, deb), kdir]);
  }
  const boot = path.join(kdir, 'boot');
  const vmlinuz = path.join(boot, fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz-')));
  const release = fs.readdirSync(path.join(kdir, 'lib', 'modules'))[0];
  return { kdir, vmlinuz, release };
}

function findModule(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      const r = findModule(p, name);
      if (r) return r;
    } else if (e.name === `${name}.ko` || e.name === `${name}.ko.xz`) return p;
  }
  return undefined;
}

function buildInitramfs(version, kdir, release, command, MODULES) {
  // Where vite (inside the VM) writes its bundled config: node_modules/.vite-temp, symlinks resolved.
  fs.mkdirSync(path.join(root, 'node_modules', '.vite-temp'), { recursive: true });
  const viteTemp = fs.realpathSync(path.join(root, 'node_modules', '.vite-temp'));
  const dir = path.join(work, `initramfs-${version}`);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'proc', 'sys', 'dev', 'mnt', 'modules']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  const modRoot = path.join(kdir, 'lib', 'modules', release, 'kernel');
  for (const m of MODULES) {
    const p = findModule(modRoot, m);
    if (!p) throw new Error(`module ${m}.ko not found in ${modRoot}`);
    // busybox insmod takes plain .ko files: decompress the .ko.xz of newer kernels.
    if (p.endsWith('.xz')) fs.writeFileSync(path.join(dir, 'modules', `${m}.ko`), execFileSync('xz', ['-dc', p], { maxBuffer: 1 << 28 }));
    else fs.copyFileSync(p, path.join(dir, 'modules', `${m}.ko`));
  }
  const init = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.join(' ')}; do insmod /modules/$m.ko || echo "insmod $m failed"; done
# cache=loose: the guest keeps what it read in its page cache (the share is read-only and the host
# does not change it during a run). With cache=none every exec re-read the node binary over 9p:
# \`node -e 0\` took 17-41 s in the guest at host load 20, 2.4 s with the cache.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose host /mnt || { echo "BEE_VM_EXIT=97"; poweroff -f; }
mount -t proc proc /mnt/proc
mount -t sysfs sys /mnt/sys
mount -t devtmpfs dev /mnt/dev
mount -t tmpfs run /mnt/run
mkdir -p /mnt/run/bee-tmp
mount -t tracefs tracefs /mnt/sys/kernel/tracing
mount -t debugfs debugfs /mnt/sys/kernel/debug 2>/dev/null
mount -t bpf bpf /mnt/sys/fs/bpf
mount -t cgroup2 cgroup2 /mnt/sys/fs/cgroup
# The VM kernel's config where libbpf (bpftool) and bee-ts look for it (the host's /boot is read-only here).
mount -t tmpfs boot /mnt/boot && cp /kconfig /mnt/boot/config-$(uname -r)
ip link set lo up
# vite writes its bundled config next to node_modules: give it a writable place (at the real path:
# a git worktree's node_modules is often a symlink to the main checkout's).
mount -t tmpfs vitetemp /mnt${viteTemp}
chroot /mnt /bin/sh -c ${JSON.stringify(command)}
echo "BEE_VM_EXIT=$?"
poweroff -f
`;
  fs.copyFileSync(path.join(kdir, 'boot', `config-${release}`), path.join(dir, 'kconfig'));
  fs.writeFileSync(path.join(dir, 'init'), init, { mode: 0o755 });
  const out = path.join(work, `initramfs-${version}.cpio`);
  execFileSync('sh', ['-c', `find . | cpio -o -H newc --quiet > ${JSON.stringify(out)}`], { cwd: dir });
  return out;
}

need('qemu-system-x86_64', 'qemu-system-x86');
need('cpio', 'cpio');
if (!fs.existsSync('/bin/busybox')) {
  console.error('test:vm needs /bin/busybox (apt-get install busybox-static)');
  process.exit(2);
}
const wanted = process.env.BEE_VM_KERNEL ? [process.env.BEE_VM_KERNEL] : Object.keys(KERNELS);
for (const v of wanted) if (!KERNELS[v]) {
  console.error(`test:vm: BEE_VM_KERNEL=${v}: known kernels are ${Object.keys(KERNELS).join(', ')}`);
  process.exit(2);
}
const env = `HOME=/run/bee-tmp TMPDIR=/run/bee-tmp TERM=dumb NO_COLOR=1 CI=${process.env.CI ?? ''} PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin BEE_IN_VM=1${process.env.BEE_VM_INCLUDE ? ` BEE_VM_INCLUDE=${process.env.BEE_VM_INCLUDE.replace(/[^\w/*.,-]/g, '')}` : ''}`;
// Extra arguments go to vitest (e.g. a test name filter: npm run test:vm -- -t activeconn).
const extra = process.argv.slice(2).map((a) => `'${a.replace(/'/g, "")}'`).join(" ");
const command = process.env.BEE_VM_COMMAND ?? `cd ${root} && ${env} ${process.execPath} node_modules/vitest/vitest.mjs run --config vitest.vm.config.ts ${extra}`;
await prebuild(wanted.map((v) => ensureKernel(KERNELS[v]).vmlinuz));

/** One boot: resolves with the suite's exit status inside the VM and the guest kernel's first fault line, if it printed one. */
function boot(version) {
  const k = KERNELS[version];
  const { kdir, vmlinuz, release } = ensureKernel(k);
  const initrd = buildInitramfs(version, kdir, release, command, k.modules);
  console.error(`test:vm: booting Debian ${release} under QEMU (TCG)`);
  const started = Date.now();
  const qemu = spawn(
    'qemu-system-x86_64',
    [
      '-accel', process.env.BEE_VM_ACCEL ?? 'tcg', '-cpu', process.env.BEE_VM_CPU ?? 'max', '-m', process.env.BEE_VM_MEM ?? '2048', '-smp', process.env.BEE_VM_SMP ?? '2',
      '-kernel', vmlinuz, '-initrd', initrd,
      // softlockup_panic: a CPU stuck in the guest kernel panics it (panic prints the stuck CPU's
      // stack at any loglevel) and QEMU exits (-no-reboot), instead of a soft lockup line every
      // 28 s keeping the idle guard quiet until the hour's timeout (CI, 6.1.0-57: 3600 s).
      '-append', 'console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1',
      '-nographic', '-no-reboot',
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const tag = wanted.length > 1 ? `[${version}] ` : '';
  const say = (msg) => console.error(`test:vm: ${release}: ${msg}`);
  return new Promise((resolve) => {
    let status = 98;
    let buf = '';
    let line = '';
    let idle;
    /** The first lockup, stall or panic line the guest printed, and the last test line before it. */
    let kernelFault;
    let lastTest;
    /** The lines from that fault on (its stack), printed again at the end, where CI's tail shows them. */
    const faultReport = [];
    // QEMU CPU seconds per test file (the figures README "Tests" and test/vm-matrix.ts quote): the
    // verbose reporter prints a line as each test ends, files run one after another, so a file's
    // share is QEMU's CPU at its last line less the CPU at the previous file's last line.
    const cpuAt = new Map();
    let cpuLast = 0;
    const cpu = () => {
      try {
        // utime and stime, fields 14 and 15 of /proc/PID/stat (after the parenthesised name).
        const f = fs.readFileSync(`/proc/${qemu.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        cpuLast = (Number(f[11]) + Number(f[12])) / CLK_TCK;
      } catch {
        // Gone already: keep the last reading.
      }
      return cpuLast;
    };
    const account = (l) => {
      const m = /(test\/[\w./-]+\.test\.ts)/.exec(l);
      if (!m) return;
      cpuAt.delete(m[1]);
      cpuAt.set(m[1], cpu());
    };
    const kill = (why) => {
      say(`${why}: killing the VM (a failure)`);
      qemu.kill('SIGKILL');
    };
    const watch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => kill(`no console output for ${IDLE_MS / 1000}s (hung?)`), IDLE_MS);
    };
    watch();
    // As text: a character split across two reads is decoded whole.
    qemu.stdout.setEncoding('utf8');
    qemu.stdout.on('data', (s) => {
      watch();
      // Both kernels boot at once: each line is tagged with its kernel.
      const lines = (line + s).split('\n');
      line = lines.pop();
      for (const l of lines) {
        process.stdout.write(`${tag}${l}\n`);
        account(l);
        // The guest kernel's own failure reports: the run is lost, say where it was.
        if (!kernelFault && /\b(BUG: soft lockup|Kernel panic|rcu: INFO: rcu_\w+ (self-)?detected stall)/.test(l)) {
          kernelFault = l.trim();
          say(`the guest kernel reported "${kernelFault}" during ${lastTest ?? 'the boot'}`);
        }
        if (kernelFault && faultReport.length < 60) faultReport.push(l);
        const t = /(test\/[\w./-]+\.test\.ts.*)/.exec(l);
        if (t) lastTest = `the test after "${t[1].slice(0, 200)}"`;
      }
      buf = (buf + s).slice(-4096);
      const m = /BEE_VM_EXIT=(\d+)/.exec(buf);
      if (m) status = Number(m[1]);
    });
    const timer = setTimeout(() => kill(`timed out after ${TIMEOUT_MS / 1000}s`), TIMEOUT_MS);
    qemu.on('exit', () => {
      clearTimeout(timer);
      clearTimeout(idle);
      if (line) process.stdout.write(`${tag}${line}\n`);
      if (faultReport.length) say(`the guest kernel's report, again:\n${faultReport.map((l) => `  ${l}`).join('\n')}`);
      if (status === 98) say(`the VM stopped without reporting a result${kernelFault ? ` (the guest kernel: "${kernelFault}", during ${lastTest ?? 'the boot'})` : ''}`);
      let before = 0;
      const per = [...cpuAt].map(([file, at]) => {
        const s = `${file.replace(/^test\/|\.test\.ts$/g, '')} ${Math.round(at - before)}`;
        before = at;
        return s;
      });
      if (per.length) say(`QEMU CPU seconds per file (the first includes boot and vitest's start-up): ${per.join(', ')}; total ${Math.round(cpuLast)}`);
      say(`exit ${status} after ${Math.round((Date.now() - started) / 1000)}s`);
      resolve({ status, kernelFault });
    });
  });
}

// The kernels boot at the same time: each VM's suite is one Node process (one vitest worker), so
// one boot keeps about one host core busy, and on a 2-core host two boots side by side take
// about as long as one. BEE_VM_SERIAL=1 boots them one after the other.
/**
 * A boot whose guest kernel locked up or panicked (not a test's failure: the suite never reported)
 * boots once more when the first ended within RETRY_WITHIN_MS, so a second full suite still fits
 * CI's 90 minutes. Seen once in CI (6.1.0-57, 2026-12-02): both vCPUs in a soft lockup from
 * test/kernel/loader.test.ts on, which two runs of those files here (2026-12-03) and every CI run before did not
 * show. A second fault, or a test failure, fails the run.
 */
const RETRY_WITHIN_MS = Number(process.env.BEE_VM_RETRY_WITHIN_MS ?? 25 * 60 * 1000);
async function bootOnceMore(version) {
  const began = Date.now();
  const first = await boot(version);
  if (first.status === 0 || !first.kernelFault) return first.status;
  if (Date.now() - began > RETRY_WITHIN_MS) {
    console.error(`test:vm: ${version}: the guest kernel faulted after ${Math.round((Date.now() - began) / 1000)}s, too late to boot again within CI's budget (a failure)`);
    return first.status;
  }
  console.error(`test:vm: ${version}: the guest kernel faulted ("${first.kernelFault}"): booting it once more (a second fault fails)`);
  return (await boot(version)).status;
}
const statuses = process.env.BEE_VM_SERIAL ? [] : await Promise.all(wanted.map((v) => bootOnceMore(v)));
if (process.env.BEE_VM_SERIAL) for (const v of wanted) statuses.push(await bootOnceMore(v));
process.exit(Math.max(0, ...statuses));
