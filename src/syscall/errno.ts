// errno numbers (Linux, x86_64 and arm64 share them) → names, messages and actionable hints.
import { BeeTsError } from '../errors.js';

export const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  3: ['ESRCH', 'No such process'],
  4: ['EINTR', 'Interrupted system call'],
  5: ['EIO', 'Input/output error'],
  7: ['E2BIG', 'Argument list too long'],
  9: ['EBADF', 'Bad file descriptor'],
  11: ['EAGAIN', 'Resource temporarily unavailable'],
  12: ['ENOMEM', 'Cannot allocate memory'],
  13: ['EACCES', 'Permission denied'],
  14: ['EFAULT', 'Bad address'],
  16: ['EBUSY', 'Device or resource busy'],
  17: ['EEXIST', 'File exists'],
  19: ['ENODEV', 'No such device'],
  20: ['ENOTDIR', 'Not a directory'],
  22: ['EINVAL', 'Invalid argument'],
  24: ['EMFILE', 'Too many open files'],
  28: ['ENOSPC', 'No space left on device'],
  34: ['ERANGE', 'Numerical result out of range'],
  38: ['ENOSYS', 'Function not implemented'],
  61: ['ENODATA', 'No data available'],
  75: ['EOVERFLOW', 'Value too large for defined data type'],
  90: ['EMSGSIZE', 'Message too long'],
  95: ['EOPNOTSUPP', 'Operation not supported'],
  98: ['EADDRINUSE', 'Address already in use'],
  110: ['ETIMEDOUT', 'Connection timed out'],
  524: ['ENOTSUPP', 'Operation is not supported'],
};

/** Names of errnos without a message in ERRNO (Linux numbering, shared by x86_64 and arm64). */
const MORE_NAMES: Record<number, string> = {
  6: 'ENXIO', 8: 'ENOEXEC', 10: 'ECHILD', 15: 'ENOTBLK', 18: 'EXDEV', 21: 'EISDIR', 23: 'ENFILE', 25: 'ENOTTY', 26: 'ETXTBSY',
  27: 'EFBIG', 29: 'ESPIPE', 30: 'EROFS', 31: 'EMLINK', 32: 'EPIPE', 33: 'EDOM', 35: 'EDEADLK', 36: 'ENAMETOOLONG', 37: 'ENOLCK',
  39: 'ENOTEMPTY', 40: 'ELOOP', 42: 'ENOMSG', 43: 'EIDRM', 62: 'ETIME', 71: 'EPROTO', 84: 'EILSEQ', 88: 'ENOTSOCK',
  97: 'EAFNOSUPPORT', 99: 'EADDRNOTAVAIL', 100: 'ENETDOWN', 101: 'ENETUNREACH', 103: 'ECONNABORTED', 104: 'ECONNRESET',
  105: 'ENOBUFS', 106: 'EISCONN', 107: 'ENOTCONN', 111: 'ECONNREFUSED', 113: 'EHOSTUNREACH', 114: 'EALREADY',
  115: 'EINPROGRESS', 125: 'ECANCELED',
};

/** The symbolic name of an errno (`ENOENT`), or undefined when unknown. */
export const errnoSymbol = (e: number): string | undefined => ERRNO[e]?.[0] ?? MORE_NAMES[e];
export const errnoName = (e: number): string => errnoSymbol(e) ?? `errno ${e}`;
export const errnoMessage = (e: number): string => ERRNO[e]?.[1] ?? `errno ${e}`;

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EMFILE = 24;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENXIO = 6;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOSYS = 38;
export const EOPNOTSUPP = 95;
export const ENOTSUPP = 524;

/** A failed kernel call: which command, the errno by name, and what a person can do about it. */
export class BpfError extends BeeTsError {
  constructor(
    readonly command: string,
    readonly errno: number,
    readonly subject?: string,
    readonly hint?: string,
    readonly detail?: string,
    options?: ErrorOptions,
  ) {
    const what = subject ? `${subject}: ` : '';
    const h = hint ?? defaultHint(command, errno);
    // code: the errno by name (EPERM, ENOENT, ...), as Node's own system errors have it.
    super(errnoName(errno), `${what}${command}: ${errnoName(errno)} (${errnoMessage(errno)})${detail ? `\n${detail}` : ''}${h ? `\n  hint: ${h}` : ''}`, options);
  }
}

function defaultHint(command: string, errno: number): string | undefined {
  switch (errno) {
    case EPERM:
    case EACCES:
      if (process.getuid?.() !== 0)
        return 'run as root (sudo), or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN for listing objects by id, CAP_NET_ADMIN for XDP/TC)';
      return 'permission denied as root: a lockdown LSM, kernel.unprivileged_bpf_disabled, or a too-low RLIMIT_MEMLOCK on kernels before 5.11';
    case ENOSYS:
      return 'this kernel has no bpf() syscall (CONFIG_BPF_SYSCALL)';
    case E2BIG:
      return `this kernel does not know some field bee-ts set for ${command}; it is older than the feature`;
    case ENOTSUPP:
    case EOPNOTSUPP:
      return 'this kernel does not support the operation (see `bee-ts feature probe`)';
    case ENOMEM:
      return 'out of memory for BPF objects: lower max_entries, or raise RLIMIT_MEMLOCK on kernels before 5.11';
    case EMFILE:
      return 'too many open files: raise `ulimit -n`';
    default:
      return undefined;
  }
}

