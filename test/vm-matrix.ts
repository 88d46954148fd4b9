// Which test files `npm run test:vm` runs inside the Debian 6.1 and 6.12 VMs (scripts/vm-test.mjs,
// vitest.vm.config.ts), in this order, and why each other file of test/kernel/ runs on the host
// only. test/vm-matrix.test.ts checks that every test/kernel file is in exactly one of the two.
// The figures behind the choice (QEMU CPU seconds per file under TCG) are in README "Tests".

/** Run in both VMs, in this order: test/vm first, then the kernel files that fit CI's budget. */
export const VM_FILES: readonly string[] = [
  'test/vm/**/*.test.ts',
  'test/kernel/maps.test.ts',
  'test/kernel/map-traits.test.ts',
  'test/kernel/loader.test.ts',
  'test/kernel/ringbuf.test.ts',
  'test/kernel/kernel-features.test.ts',
  'test/kernel/iter.test.ts',
  'test/kernel/sleepable.test.ts',
  'test/kernel/sock.test.ts',
  'test/kernel/reuseport.test.ts',
  'test/kernel/netfilter.test.ts',
  'test/kernel/lwt.test.ts',
  'test/kernel/legacy-tc.test.ts',
  'test/kernel/raw-tp-writable.test.ts',
  'test/kernel/open-api.test.ts',
  'test/kernel/externs-btf.test.ts',
  'test/kernel/attach-more.test.ts',
  'test/kernel/cgroup-hooks.test.ts',
  'test/kernel/sockredir.test.ts',
  'test/kernel/xdp-maps.test.ts',
  'test/kernel/struct-ops.test.ts',
  'test/kernel/profile.test.ts',
  // CLI output against bpftool: runCli runs the CLI in-process there (test/helpers.ts, one worker
  // thread, no Node start-up per command), bpftool is a C binary. QEMU CPU per file, 6.12 / 6.1
  // (scripts/vm-test.mjs, host load 4-6): inspect-cli 236 / 179 s (its xlated dump of every
  // program, text and JSON, both tools reading /proc/kallsyms per dump, 135-180 s of it),
  // bpftool-builtins 41 / 41, bpftool-parity 33 / 19, bpftool-attach
  // 29 / 29, bpftool-batch 16 / 18, bpftool-maps 10 / 15, bpftool-commands 9 / 15, globals-compat
  // 7 / 17, loadall 3 / 6: about 400 s per boot.
  'test/kernel/inspect-cli.test.ts',
  'test/kernel/bpftool-attach.test.ts',
  'test/kernel/bpftool-batch.test.ts',
  'test/kernel/bpftool-builtins.test.ts',
  'test/kernel/bpftool-commands.test.ts',
  'test/kernel/bpftool-maps.test.ts',
  'test/kernel/bpftool-parity.test.ts',
  'test/kernel/loadall.test.ts',
  'test/kernel/globals-compat.test.ts',
  // Their C builds come prebuilt from the host (test/build-cache.ts, test/vm-prebuild.ts); gen-object
  // runs only its kernel part there. QEMU CPU (6.1 / 6.12, the run below): core-reloc-compat
  // 82 / 92 s (566 / 520 before the share was cached, with the worker start), gen-object 22 / 24 s.
  'test/kernel/core-reloc-compat.test.ts',
  'test/kernel/gen-object.test.ts',
  // QEMU CPU s, 6.1 / 6.12, from the CI=true run of every kernel file listed here (both boots at
  // once, host load 2-10; scripts/vm-test.mjs prints them): feature 229 / 261 (its test_bpftool.py
  // test runs the suite with bpftool and then with bee-ts: nine `feature` processes each, whose
  // full probes are thousands of verifier loads), run 110 / 131, bpftool-event-pipe 29 / 32,
  // jited 78 / 107 (404 s in 6.12 for its first 3 of 5 tests when objdump ran once per function),
  // leaks 44 / 44 (one nested vitest run).
  'test/kernel/feature.test.ts',
  'test/kernel/run.test.ts',
  'test/kernel/bpftool-event-pipe.test.ts',
  'test/kernel/jited.test.ts',
  'test/kernel/leaks.test.ts',
  // Its HOST_ONLY reason (a Prometheus server) was the package test's: it runs promtool on five
  // `bee-ts run` pages. QEMU CPU s 6.1 / 6.12: about 70 / 65 (131 / 120 with boot and vitest's
  // start-up, a run of it and shutdown only, both boots at once).
  'test/kernel/metrics-prom.test.ts',
];

// Under TCG one Node start-up costs 10-20 s of CPU and a clang or gcc build minutes: files whose
// tests start Node dozens of times (bpftool, a C binary, starts fast) do not fit two boots in CI's
// budget. The C the kernel files build goes through test/build-cache.ts, prebuilt on the host
// before the boot; a file whose point is the build itself, or a timing, stays here.

/** test/kernel files that run on the host only, each with the reason. */
export const HOST_ONLY: Readonly<Record<string, string>> = {
  'test/kernel/gen.test.ts': 'bee-ts gen over every fixture, then tsc type-checks and builds the generated modules twice (a Node start-up and a type check each, minutes under TCG); generation does not depend on the kernel. Measured in the 6.12 VM (host load 9-11): it passes there, at 175 s of QEMU CPU (its tsc runs 108 and 143 s of wall time), for output that is the same on every kernel',
  'test/kernel/shutdown.test.ts': 'exit and signal handling of Node processes, about 40 Node start-ups: measured in both VMs (CI=true, both boots at once), 11 of its 12 tests passed, bounds included (the 12th made its dir in /tmp, read-only there: now $TMPDIR), at 323 / 320 s of QEMU CPU (6.1 / 6.12), a third of a boot\'s budget for a file that tests Node and bee-ts, not a kernel version; with the CLI-parity files in, it would take each boot from about 1520 / 1670 s to 1840 / 1990 s (README "Tests"), ~43 min on CI\'s slower machine, at the 45 min mark',
  'test/kernel/soak.test.ts': 'a soak of `bee-ts run` under a flood: its counts (over 10 000 records from one process\'s opens in 8 s) and bounds (RSS growth, SIGINT within 2 s with a full pipe) are for a real CPU; scaled down for TCG it would no longer flood anything. The ring buffer and output queue it loads are not version-dependent (5.8+). Measured in the 6.12 VM (host load 9-11): it fails there as said, its scraper got 5 pages in the 8 s flood where it asks for over 10 (79 s of QEMU CPU with the boot)',
  'test/kernel/bench.test.ts': 'runs each benchmark once (timing loops beside C peers built with gcc and libbpf): its peers could come from the build cache, but it checks the benchmark harness, not the kernel, and under TCG its loops take minutes for figures that mean nothing',
  'test/kernel/package.test.ts': 'podman, runc, a docker-registry and a Prometheus server: measured in the 6.12 VM (podman 4.3.1), the tmpfs $TMPDIR is enough for Prometheus (its TSDB there, ready 9 s after start) but not for podman as the test calls it: its storage refuses the tmpfs (\'overlay\' is not supported over tmpfs) and every command opens /etc/containers/networks/netavark.lock, on the read-only root (it would need --storage-driver vfs and its network config moved to the tmpfs); container images are not kernel-dependent, and the probe they run is what test/kernel/run.test.ts runs in both VMs',
  'test/kernel/heap-guard.test.ts': 'builds a probe with `bee-ts build` (clang-16) and floods a `bee-ts run` held to a 64 MB heap: 110 s of CPU under TCG; the guard watches V8\'s heap, not the kernel (its kernel part, `bee-ts run` loading a probe with a ring buffer, is what test/vm/examples does in both VMs). Measured in the 6.12 VM (host load 9-11): its build and run took 122 s of wall time and the run stopped (exit 1) without the guard\'s line on stderr, its bounds being a real CPU\'s (81 s of QEMU CPU for the file)',
  'test/kernel/init-build.test.ts': '`bee-ts init` + `bee-ts build` + `bee-ts run` per template: its point is the build (clang discovery, bee\'s flags, the templates), whose output does not depend on the kernel; its kernel part (`bee-ts run` loading and attaching a probe with a ring buffer or hash map) is what test/vm/examples does in both VMs. 21 CLI start-ups and 9 clang runs inside `bee-ts build` (a prebuilt object would skip the very step it tests): far over budget under TCG for nothing kernel-specific. Measured in the 6.12 VM (host load 9-11): its 7 init templates passed (11-35 s each, 139 s of QEMU CPU), and its kprobe-hook clang builds were still running after 4 min when the run was stopped',
};
