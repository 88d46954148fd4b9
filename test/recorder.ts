// A syscall backend for unit tests that records what would reach the kernel: every bpf() attr
// (copied after the call, so outputs the test's onBpf hook wrote are included) and every
// perf_event_attr, with fake addresses for the buffers attrs point to (mem() maps them back), and
// every netlink request (each answered with a success ACK).
// Not src/syscall/fake.ts's FakeBackend: that one models kernel state (maps, fds, rings) and
// refuses what it does not model; this one accepts everything and keeps raw bytes, for tests of
// where each field lands (ARCHITECTURE.md, "Two fakes on purpose").
import type { SyscallBackend } from '../src/syscall/backend.js';

export interface RecordedCall {
  cmd: number;
  attr: Buffer;
  size: number;
}

export class Recorder implements Partial<SyscallBackend> {
  readonly name = 'recorder';
  calls: RecordedCall[] = [];
  perfAttrs: Buffer[] = [];
  private nextAddr = 0x100000n;
  private nextFd = 200;
  private readonly bufs = new Map<bigint, Uint8Array>();
  /** Runs for each bpf() call and may write outputs into the attr (or memory it points to); its result is the call's (default 100, an fd). */
  onBpf?: (cmd: number, attr: Uint8Array) => number | undefined;
  addressOf(buf: Uint8Array): bigint {
    for (const [a, b] of this.bufs) if (b === buf) return a;
    const a = this.nextAddr;
    this.nextAddr += BigInt(buf.length) + 0x1000n;
    this.bufs.set(a, buf);
    return a;
  }
  /** The buffer a recorded pointer points to. */
  mem(addr: bigint): Uint8Array {
    const b = this.bufs.get(addr);
    if (!b) throw new Error(`recorder: unknown address 0x${addr.toString(16)}`);
    return b;
  }
  bpf(cmd: number, attr: Uint8Array, size: number): number {
    const r = this.onBpf?.(cmd, attr) ?? 100;
    this.calls.push({ cmd, attr: Buffer.from(attr.subarray(0, size)), size });
    return r;
  }
  perfEventOpen(attr: Uint8Array): number {
    this.perfAttrs.push(Buffer.from(attr));
    return 101;
  }
  ioctl(): number {
    return 0;
  }
  /** Netlink requests written to a socket, whole (header included). */
  netlink: Uint8Array[] = [];
  socket(): number {
    return 300;
  }
  setsockoptInt(): number {
    return 0;
  }
  write(_fd: number, buf: Uint8Array, len: number): number {
    this.netlink.push(Uint8Array.from(buf.subarray(0, len)));
    return len;
  }
  /** The answer to the last request: NLMSG_ERROR with error 0 (an ACK), echoing its header. */
  read(_fd: number, buf: Uint8Array): number {
    const req = this.netlink.at(-1);
    if (!req) return -11; // EAGAIN: nothing was asked
    const dv = new DataView(buf.buffer, buf.byteOffset, 36);
    dv.setUint32(0, 36, true);
    dv.setUint16(4, 2 /* NLMSG_ERROR */, true);
    dv.setUint16(6, 0x100 /* NLM_F_CAPPED */, true);
    dv.setUint32(8, new DataView(req.buffer).getUint32(8, true), true);
    dv.setInt32(16, 0, true);
    buf.set(req.subarray(0, 16), 20);
    return 36;
  }
  close(): number {
    return 0;
  }
  dupCloexec(): number {
    return this.nextFd++;
  }
  numPossibleCpus(): number {
    return 2;
  }
  uname() {
    return { sysname: 'Linux', release: '6.18.0-recorder', version: '#1', machine: process.arch === 'arm64' ? 'aarch64' : 'x86_64' };
  }
  /** The last call (of command `cmd`, when given). */
  last(cmd?: number): RecordedCall {
    const c = cmd === undefined ? this.calls.at(-1) : this.calls.filter((x) => x.cmd === cmd).at(-1);
    if (!c) throw new Error(`recorder: no ${cmd === undefined ? '' : `command ${cmd} `}call recorded`);
    return c;
  }
}
