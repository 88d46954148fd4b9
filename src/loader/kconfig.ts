// Values for `extern ... __kconfig` variables: LINUX_KERNEL_VERSION and friends, and CONFIG_*
// from /proc/config.gz or /boot/config-<release>. A missing strong extern is an error; a
// missing __weak one reads as 0.
import fs from 'node:fs';
import os from 'node:os';
import { sys } from '../syscall/backend.js';

let cached: Map<string, string> | undefined;
let cachedText: string | undefined;

/** The kernel config's text, read once per process ('' when there is none to read). */
function kernelConfigText(): string {
  if (cachedText !== undefined) return cachedText;
  try {
    // node:zlib on first use: loading it costs ~1.5 ms of CPU, and most objects have no __kconfig.
    const { gunzipSync } = process.getBuiltinModule('node:zlib');
    cachedText = gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    try {
      cachedText = fs.readFileSync(`/boot/config-${os.release()}`, 'utf8');
    } catch {
      cachedText = '';
    }
  }
  return cachedText;
}

/** Parsed kernel config: CONFIG_X → 'y' | 'm' | number | "string". */
export function kernelConfig(): Map<string, string> {
  if (cached) return cached;
  const m = new Map<string, string>();
  for (const line of kernelConfigText().split('\n')) {
    const mm = CONFIG_LINE.exec(line);
    if (mm) m.set(mm[1]!, mm[2]!);
  }
  cached = m;
  return m;
}

const CONFIG_LINE = /^(CONFIG_\w+)=(.*)$/;

/**
 * One entry of the config, as `kernelConfig().get(name)` gives it, found by searching the text
 * for its line (the last one, as the map keeps) instead of parsing every line (~2 ms of CPU at
 * start-up for ~10k lines, where an object asks for a few names).
 */
export function kernelConfigEntry(name: string): string | undefined {
  return cached ? cached.get(name) : configEntry(kernelConfigText(), name);
}

/** `name`'s value in a config text, as parsing every line into a map would give it. */
export function configEntry(text: string, name: string): string | undefined {
  if (!/^CONFIG_\w+$/.test(name)) return undefined;
  const key = `${name}=`;
  for (let i = text.lastIndexOf(key); i >= 0; i = i > 0 ? text.lastIndexOf(key, i - 1) : -1) {
    if (i > 0 && text.charCodeAt(i - 1) !== 10) continue;
    const end = text.indexOf('\n', i);
    const mm = CONFIG_LINE.exec(text.slice(i, end < 0 ? undefined : end));
    if (mm) return mm[2];
  }
  return undefined;
}

/** a<<16 | b<<8 | min(c,255), from uname's release (or a distro's version string, e.g. Debian's). */
export function linuxKernelVersion(release?: string, version?: string): number {
  if (release === undefined || version === undefined) {
    const u = sys().uname();
    release ??= u.release;
    version ??= u.version;
  }
  // Debian and Ubuntu report the real upstream version in /proc/version_signature or uname -v.
  const deb = /Debian (\d+)\.(\d+)\.(\d+)/.exec(version);
  const m = deb ?? /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return 0;
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Math.min(Number(m[3] ?? 0), 255);
}

export type KconfigValue = { kind: 'number'; value: bigint } | { kind: 'string'; value: string } | undefined;

export function kconfigValue(name: string): KconfigValue {
  switch (name) {
    case 'LINUX_KERNEL_VERSION':
      return { kind: 'number', value: BigInt(linuxKernelVersion()) };
    case 'LINUX_HAS_SYSCALL_WRAPPER':
      // x86_64 and arm64 have used pt_regs syscall wrappers since 4.17.
      return { kind: 'number', value: process.arch === 'x64' || process.arch === 'arm64' ? 1n : 0n };
    case 'LINUX_HAS_BPF_COOKIE':
      return { kind: 'number', value: linuxKernelVersion() >= ((5 << 16) | (15 << 8)) ? 1n : 0n };
    default:
      break;
  }
  const raw = kernelConfigEntry(name);
  if (raw === undefined) return undefined;
  if (raw === 'y') return { kind: 'number', value: 1n };
  if (raw === 'm') return { kind: 'number', value: 2n };
  if (raw === 'n') return { kind: 'number', value: 0n };
  if (/^"/.test(raw)) return { kind: 'string', value: raw.slice(1, -1) };
  if (/^-?(0x[0-9a-f]+|\d+)$/i.test(raw)) return { kind: 'number', value: BigInt(raw) };
  return { kind: 'string', value: raw };
}

/** Address of a kernel symbol from /proc/kallsyms (untyped __ksym externs). */
export function kallsymsAddress(name: string): bigint | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    return undefined;
  }
  const re = new RegExp(`^([0-9a-f]+) \\w ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`, 'm');
  const m = re.exec(text);
  return m ? BigInt(`0x${m[1]}`) : undefined;
}
