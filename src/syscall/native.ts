// The real backend: libc through koffi, with fixed-arity bindings (the variadic forms are slower
// and cannot run async). Importing this module only registers the factory; koffi (a native addon)
// is loaded by the first syscall, so importing the library has no effect on the process.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koffi from 'koffi';
import { PlatformError, registerNativeBackend, type SyscallBackend } from './backend.js';
import { BpfError, EINTR } from './errno.js';

const SYSCALL_NUMBERS: Record<string, { bpf: number; perfEventOpen: number }> = {
  x64: { bpf: 321, perfEventOpen: 298 },
  arm64: { bpf: 280, perfEventOpen: 241 },
};

const F_DUPFD_CLOEXEC = 1030;
const _SC_PAGESIZE = 30;

function possibleCpus(): number {
  try {
    const s = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let n = 0;
    for (const part of s.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n = Math.max(n, (b ?? a!) + 1);
    }
    return n;
  } catch {
    return 1;
  }
}

/**
 * koffi. Its package entry (a libc probe of the node binary, package-exports lookups, deprecation
 * wrappers) costs ~8 ms of CPU per process, 4x what its prebuilt glibc addon takes to load, so the
 * addon (@koromix/koffi-<platform>-<arch>, koffi's own dependency, where koffi itself looks first)
 * is loaded directly when it is there and loads; anything else (musl, a koffi built from source,
 * a layout this does not know) goes through koffi's entry. The addon is looked for beside the
 * nearest `node_modules/koffi` above this module (the folder Node's resolution of `koffi` finds
 * first): `createRequire` + `require.resolve('koffi')` (koffi's package exports) alone cost
 * 4-6 ms of a first load's CPU, a few stat calls do not.
 */
function loadKoffi(): typeof Koffi {
  try {
    const name = `koffi-${process.platform}-${process.arch}`;
    const leaf = path.join(`${process.platform}_${process.arch}`, 'koffi.node');
    for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; ) {
      const modules = path.join(dir, 'node_modules');
      if (fs.existsSync(path.join(modules, 'koffi', 'package.json'))) {
        for (const addonDir of [path.join(modules, 'koffi', 'node_modules', '@koromix', name), path.join(modules, '@koromix', name)]) {
          const file = path.join(addonDir, leaf);
          if (!fs.existsSync(file)) continue;
          const m = { exports: {} as Record<string, unknown> };
          // The real path, as Node's resolution gives it (one addon file, one dlopen handle).
          process.dlopen(m, fs.realpathSync.native(file));
          if (typeof m.exports.load === 'function' && typeof m.exports.errno === 'function' && typeof m.exports.address === 'function') return m.exports as unknown as typeof Koffi;
          break;
        }
        break;
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    /* koffi's own loader below */
  }
  return createRequire(import.meta.url)('koffi') as typeof Koffi;
}

function createNativeBackend(): SyscallBackend {
  const nr = SYSCALL_NUMBERS[process.arch];
  if (!nr) throw new PlatformError(`bee-ts supports x86_64 and arm64, not ${process.arch}`);
  if (process.platform !== 'linux') throw new PlatformError(`BPF needs Linux, not ${process.platform}`);
  const koffi = loadKoffi();
  const libc = koffi.load('libc.so.6');
  const bpfCall = libc.func('long syscall(long, int, void *, uint)');
  // The same call with the attr's address as a number: koffi skips the buffer conversion. Its
  // result is read as an int (bpf(2) returns an int: 0, an fd or -1; eax/w0 hold it whole), which
  // koffi hands back as a plain number: no int64 conversion and no Number() per element call.
  const bpfAtCall = libc.func('int syscall(long, int, long, uint)');
  const perfCall = libc.func('long syscall(long, void *, int, int, int, ulong)');
  const ioctl = libc.func('int ioctl(int, ulong, ulong)');
  const close = libc.func('int close(int)');
  const fcntl = libc.func('int fcntl(int, int, int)');
  const mmap = libc.func('void *mmap(void *, size_t, int, int, int, long)');
  const munmap = libc.func('int munmap(void *, size_t)');
  const epollCreate1 = libc.func('int epoll_create1(int)');
  const epollCtl = libc.func('int epoll_ctl(int, int, int, void *)');
  const epollWait = libc.func('int epoll_wait(int, void *, int, int)');
  const eventfd = libc.func('int eventfd(uint, int)');
  const read = libc.func('long read(int, void *, size_t)');
  const flock = libc.func('int flock(int, int)');
  const socket = libc.func('int socket(int, int, int)');
  const setsockopt = libc.func('int setsockopt(int, int, int, void *, uint)');
  const intOpt = Buffer.alloc(4);
  const write = libc.func('long write(int, void *, size_t)');
  const getrlimit = libc.func('int getrlimit(int, void *)');
  const setrlimit = libc.func('int setrlimit(int, void *)');
  const sysconf = libc.func('long sysconf(int)');
  const unameFn = libc.func('int uname(void *)');
  const clockGettime = libc.func('int clock_gettime(int, void *)');
  const timespec = Buffer.alloc(16);
  const errno = () => koffi.errno();
  const ret = (r: number | bigint): number => {
    const n = Number(r);
    return n < 0 ? -errno() : n;
  };
  const pageSize = Number(sysconf(_SC_PAGESIZE));
  let ncpu = 0;
  const epollEvent = Buffer.alloc(16);
  const rlim = Buffer.alloc(16);
  return {
    name: 'native',
    bpf: (cmd, attr, size) => ret(bpfCall(nr.bpf, cmd, attr, size)),
    bpfFixed: (attr, size) => {
      // Taking the address moves a small buffer's bytes off the V8 heap for good: it never moves
      // afterwards. The caller keeps the buffer (ElemAttr.attr) as long as it uses the closure.
      const addr = Number(koffi.address(attr));
      const nrBpf = nr.bpf;
      return (cmd) => {
        const r = bpfAtCall(nrBpf, cmd, addr, size) as number;
        return r < 0 ? -errno() : r;
      };
    },
    perfEventOpen: (attr, pid, cpu, group, flags) => ret(perfCall(nr.perfEventOpen, attr, pid, cpu, group, flags)),
    ioctl: (fd, req, arg) => ret(ioctl(fd, req, arg)),
    close: (fd) => ret(close(fd)),
    dupCloexec: (fd, min) => ret(fcntl(fd, F_DUPFD_CLOEXEC, min)),
    mmap: (length, prot, flags, fd, offset, addr) => {
      const p = mmap(addr ?? null, length, prot, flags, fd, offset) as bigint | null;
      if (p === null || p === 0xffffffffffffffffn) return -BigInt(errno());
      return BigInt(p);
    },
    munmap: (addr, length) => ret(munmap(addr, length)),
    epollCreate: () => ret(epollCreate1(0x80000 /* EPOLL_CLOEXEC */)),
    epollCtl: (epfd, op, fd, events, data) => {
      epollEvent.fill(0);
      epollEvent.writeUInt32LE(events, 0);
      epollEvent.writeBigUInt64LE(data, process.arch === 'x64' ? 4 : 8);
      return ret(epollCtl(epfd, op, fd, epollEvent));
    },
    epollWait: (epfd, events, max, timeout) => ret(epollWait(epfd, events, max, timeout)),
    epollWaitAsync: (epfd, events, max, timeout, cb) => {
      epollWait.async(epfd, events, max, timeout, (err: unknown, r: number) => {
        cb(err ? -EINTR : r < 0 ? -errno() : r);
      });
    },
    eventfd: (init, flags) => ret(eventfd(init, flags)),
    socket: (domain, type, protocol) => ret(socket(domain, type, protocol)),
    setsockoptInt: (fd, level, name, value) => {
      intOpt.writeInt32LE(value, 0);
      return ret(setsockopt(fd, level, name, intOpt, 4));
    },
    read: (fd, buf, len) => ret(read(fd, buf, len)),
    flock: (fd, op) => ret(flock(fd, op)),
    write: (fd, buf, len) => ret(write(fd, buf, len)),
    getrlimit: (res) => {
      const r = getrlimit(res, rlim);
      if (r < 0) return -errno();
      return { cur: rlim.readBigUInt64LE(0), max: rlim.readBigUInt64LE(8) };
    },
    setrlimit: (res, cur, max) => {
      rlim.writeBigUInt64LE(cur, 0);
      rlim.writeBigUInt64LE(max, 8);
      return ret(setrlimit(res, rlim));
    },
    addressOf: (buf) => BigInt(koffi.address(buf)),
    view: (addr, length) => koffi.view(addr, length) as ArrayBuffer,
    pageSize: () => pageSize,
    clockNs: (clockId) => {
      if (clockGettime(clockId, timespec) < 0) return -BigInt(errno());
      return timespec.readBigInt64LE(0) * 1_000_000_000n + timespec.readBigInt64LE(8);
    },
    uname: () => {
      // struct utsname: six 65-byte NUL-terminated fields (sysname, nodename, release, version, machine, domainname).
      const b = Buffer.alloc(65 * 6);
      if (unameFn(b) < 0) throw new BpfError('uname', errno(), 'uname(2)');
      const field = (i: number) => {
        const f = b.subarray(i * 65, (i + 1) * 65);
        const z = f.indexOf(0);
        return f.subarray(0, z < 0 ? 65 : z).toString('latin1');
      };
      return { sysname: field(0), release: field(2), version: field(3), machine: field(4) };
    },
    numPossibleCpus: () => (ncpu ||= possibleCpus()),
    bpfObjectKind: (fd) => {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return undefined;
      }
      return ({ 'anon_inode:bpf-prog': 'prog', 'anon_inode:bpf-map': 'map', 'anon_inode:bpf_link': 'link', 'anon_inode:bpf-link': 'link', 'anon_inode:btf': 'btf' } as const)[target];
    },
  };
}

registerNativeBackend(createNativeBackend);
