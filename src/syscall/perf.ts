// perf_event_open(2): the perf_event_attr layout (sized PERF_ATTR_SIZE_VER5 = 128 bytes, checked
// against the kernel's BTF in test/kernel/abi.test.ts), its ioctls, and the PMU types in sysfs.
import fs from 'node:fs';
import { sys } from './backend.js';
import { BpfError } from './errno.js';
import { Fd } from './fd.js';

export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;
export const PERF_COUNT_SW_CPU_CLOCK = 0;
export const PERF_COUNT_SW_BPF_OUTPUT = 10;
export const PERF_SAMPLE_TIME = 1 << 2;
export const PERF_SAMPLE_RAW = 1 << 10;
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;
const ATTR_SIZE = 128;

export interface PerfAttr {
  type: number;
  config: bigint;
  samplePeriod?: bigint;
  freq?: boolean;
  sampleType?: bigint;
  wakeupEvents?: number;
  watermark?: boolean;
  disabled?: boolean;
  /** Count kernel mode only (perf_event_attr.exclude_user). */
  excludeUser?: boolean;
  /** kprobe function name / uprobe path (kept alive by the caller until the call returns). */
  config1?: Uint8Array | bigint;
  config2?: bigint;
}

export function perfEventOpen(a: PerfAttr, pid: number, cpu: number, what: string): Fd {
  const b = Buffer.alloc(ATTR_SIZE);
  b.writeUInt32LE(a.type, 0);
  b.writeUInt32LE(ATTR_SIZE, 4);
  b.writeBigUInt64LE(a.config, 8);
  b.writeBigUInt64LE(a.samplePeriod ?? 0n, 16);
  b.writeBigUInt64LE(a.sampleType ?? 0n, 24);
  let flags = 0n;
  if (a.disabled) flags |= 1n;
  if (a.excludeUser) flags |= 1n << 4n;
  if (a.freq) flags |= 1n << 10n;
  if (a.watermark) flags |= 1n << 14n;
  b.writeBigUInt64LE(flags, 40);
  b.writeUInt32LE(a.wakeupEvents ?? 0, 48);
  const c1 = a.config1;
  b.writeBigUInt64LE(c1 === undefined ? 0n : typeof c1 === 'bigint' ? c1 : sys().addressOf(c1), 56);
  b.writeBigUInt64LE(a.config2 ?? 0n, 64);
  const fd = sys().perfEventOpen(b, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) throw new BpfError('perf_event_open', -fd, what);
  return new Fd(fd, `perf ${what}`);
}

export function ioctl(fd: Fd, req: number, arg: number, what: string): void {
  const r = sys().ioctl(fd.value, req, arg);
  if (r < 0) throw new BpfError(`ioctl(0x${req.toString(16)})`, -r, what);
}

/** PMU type and the config bit for return probes, from sysfs. */
export function pmu(name: 'kprobe' | 'uprobe'): { type: number; retprobeBit: number } | undefined {
  try {
    const type = Number(fs.readFileSync(`/sys/bus/event_source/devices/${name}/type`, 'utf8').trim());
    let bit = 0;
    try {
      const f = fs.readFileSync(`/sys/bus/event_source/devices/${name}/format/retprobe`, 'utf8').trim();
      const m = /^config:(\d+)$/.exec(f);
      if (m) bit = Number(m[1]);
    } catch {
      /* default bit 0 */
    }
    return { type, retprobeBit: bit };
  } catch {
    return undefined;
  }
}
