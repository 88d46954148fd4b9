// PROG_LOAD with readable failures: load without a log first (fast path); on failure reload with
// a log that grows until it fits (bounded), then explain: the verifier's last lines, the C source
// line of the failing instruction (from line_info), and for poisoned CO-RE relocations or
// missing maps/kfuncs, which relocation of which type and field; and a refusal because this
// kernel lacks the program's kind as a NotSupportedError that names the kind and its kernel.
import { NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { type ProgLoadAttr, progLoadRaw } from '../syscall/bpf.js';
import { AttachType, ProgType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENOSPC, EPERM } from '../syscall/errno.js';
import { linkFeatures } from '../syscall/features.js';
import { Fd } from '../syscall/fd.js';
import { POISON_HELPER } from './core.js';
import { linuxKernelVersion } from './kconfig.js';
import { SEC_SLEEPABLE } from './sections.js';
import type { ProgramSpec } from './spec.js';

export interface SourceLine {
  insn: number;
  fileName: string;
  lineNum: number;
  column: number;
  line: string;
}

export interface PoisonNote {
  insn: number;
  helper: number;
  message: string;
}

export interface LoadContext {
  program: string;
  section: string;
  lines: SourceLine[];
  poisons: PoisonNote[];
  /** Keep the whole verifier log in the error (--verbose). */
  verbose?: boolean;
}

const LOG_START = 1 << 20;
const LOG_MAX = 0xffffffff >>> 2;
const TAIL_LINES = 12;

export class VerifierError extends BpfError {
  constructor(
    errno: number,
    readonly program: string,
    readonly log: string,
    readonly failedInsn: number | undefined,
    readonly source: SourceLine | undefined,
    readonly explanation: string | undefined,
    verbose: boolean,
  ) {
    const tail = log.trimEnd().split('\n');
    const shown = verbose ? tail : tail.slice(-TAIL_LINES);
    let detail = '';
    if (explanation) detail += `${explanation}\n`;
    if (source) detail += `failing instruction ${failedInsn} is at ${source.fileName}:${source.lineNum}:${source.column}: ${source.line.trim()}\n`;
    if (log) detail += `verifier log${verbose || tail.length <= TAIL_LINES ? '' : ` (last ${TAIL_LINES} of ${tail.length} lines; --verbose for all)`}:\n  ${shown.join('\n  ')}`;
    super('BPF_PROG_LOAD', errno, `program '${program}'`, errno === EPERM ? undefined : 'the verifier rejected the program; see the log above', detail.trimEnd());
    this.name = 'VerifierError';
  }
}

/** The instruction the verifier stopped at: the last `N: (op) ...` line of the log. */
export function failingInsn(log: string): number | undefined {
  const re = /^(\d+): \([0-9a-f]{2}\)/gm;
  let last: number | undefined;
  for (let m = re.exec(log); m; m = re.exec(log)) last = Number(m[1]);
  return last;
}

export function sourceFor(lines: SourceLine[], insn: number | undefined): SourceLine | undefined {
  if (insn === undefined) return undefined;
  let best: SourceLine | undefined;
  for (const l of lines) if (l.insn <= insn && l.lineNum > 0 && (!best || l.insn >= best.insn)) best = l;
  return best;
}

function explainPoison(log: string, ctx: LoadContext): string | undefined {
  const m = /invalid func unknown#(\d+)/.exec(log);
  if (!m) return undefined;
  const helper = Number(m[1]);
  const insn = failingInsn(log);
  const note = ctx.poisons.find((p) => p.helper === helper && (insn === undefined || p.insn === insn)) ?? ctx.poisons.find((p) => p.helper === helper);
  if (note) return note.message;
  if (helper === POISON_HELPER) return 'a CO-RE relocation could not be resolved against the kernel BTF';
  return undefined;
}

/**
 * EPERM with a verifier log that checked no instruction: the verifier itself refused the program
 * type or attach target before looking at the code (as it refuses libbpf's load of the same
 * object): a restriction of this kernel, not a fault of the program or of bee-ts. Without a log
 * the refusal came before the verifier ran (the default hint: lockdown, capabilities, ...).
 */
export function refusedBeforeVerifying(logBuf: Uint8Array, section: string): string | undefined {
  const z = logBuf.indexOf(0);
  const log = Buffer.from(logBuf.subarray(0, z < 0 ? logBuf.length : z)).toString('utf8');
  if (!/^processed 0 insns/m.test(log)) return undefined;
  return `this kernel refused '${section}' before verifying a single instruction (verifier log: "${log.trim().split('\n').at(-1)}"): a restriction of this kernel on the program type or attach target, not the program's code; libbpf's load is refused the same way`;
}

export function loadProgram(attr: ProgLoadAttr, ctx: LoadContext): Fd {
  const first = progLoadRaw({ ...attr, logLevel: 0, logBuf: undefined });
  if (first.fd >= 0) return new Fd(first.fd, `prog ${ctx.program}`);
  let errno = -first.fd;
  // Permission problems get no verifier log: say so directly. (EACCES is the verifier's own
  // "invalid access" answer, so only EPERM counts here.)
  if (errno === EPERM) {
    const logBuf = new Uint8Array(4096);
    const retry = progLoadRaw({ ...attr, logLevel: 1, logBuf });
    if (retry.fd >= 0) return new Fd(retry.fd, `prog ${ctx.program}`);
    throw new BpfError('BPF_PROG_LOAD', errno, `program '${ctx.program}' (section ${ctx.section})`, refusedBeforeVerifying(logBuf, ctx.section));
  }
  let size = LOG_START;
  let log = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const buf = new Uint8Array(size);
    const r = progLoadRaw({ ...attr, logLevel: 1, logBuf: buf });
    if (r.fd >= 0) return new Fd(r.fd, `prog ${ctx.program}`); // passed with a log (flaky EAGAIN earlier)
    errno = -r.fd;
    const z = buf.indexOf(0);
    log = Buffer.from(buf.subarray(0, z < 0 ? buf.length : z)).toString('utf8');
    if (errno !== ENOSPC || size >= LOG_MAX) break;
    // 6.4+ tells us the size it needed.
    size = Math.min(LOG_MAX, r.logTrueSize > size ? r.logTrueSize + 1024 : size * 4);
  }
  const insn = failingInsn(log);
  throw new VerifierError(errno, ctx.program, log, insn, sourceFor(ctx.lines, insn), explainPoison(log, ctx), !!ctx.verbose);
}

/**
 * A program the verifier refused because this kernel lacks its kind: the error says which kind and
 * from which kernel. uprobe.session before 6.13: 6.10-6.12 have bpf_session_is_return for kprobe
 * sessions only, so the program is refused at load, not at attach. fsession before 7.0: the
 * attach type is unknown.
 */
export function refuseMissingKind(p: ProgramSpec, load: () => Fd): Fd {
  try {
    return load();
  } catch (e) {
    if (p.expectedAttachType === AttachType.TRACE_FSESSION && e instanceof BpfError && linuxKernelVersion() < 7 << 16)
      throw new NotSupportedError('fsession programs (BPF_TRACE_FSESSION)', '7.0', sys().uname().release, `program '${p.name}': use an fentry and an fexit program`, { cause: e });
    if (p.attach === 'uprobe.session' && e instanceof BpfError) {
      let have = true;
      try {
        have = linkFeatures.uprobeSession();
      } catch {
        /* the probe could not tell: keep the verifier's error */
      }
      if (!have) throw new NotSupportedError('uprobe.session programs', '6.13', sys().uname().release, `program '${p.name}': the kernel refused it (${e.message.split('\n')[0]}); use a uprobe.multi and a uretprobe.multi program`, { cause: e });
    }
    if (p.progType === ProgType.LIRC_MODE2 && e instanceof BpfError && e.errno === EINVAL && !(e instanceof VerifierError && e.log.trim()))
      throw new NotSupportedError('lirc_mode2 programs (CONFIG_BPF_LIRC_MODE2, with rc-core: CONFIG_RC_CORE)', '4.18', sys().uname().release, `program '${p.name}': this kernel does not know the program type`, { cause: e });
    if (p.progType === ProgType.TRACING && p.secFlags & SEC_SLEEPABLE && e instanceof VerifierError && / is not sleepable/.test(e.log))
      throw new NotSupportedError(
        `sleepable tracing (${p.section.split('/')[0]}) on ${p.attachTarget || 'this function'}`,
        '6.2',
        sys().uname().release,
        `program '${p.name}': the verifier allows sleepable fentry/fexit/fmod_ret only on functions in the kernel's error-injection list (CONFIG_FUNCTION_ERROR_INJECTION, which this kernel lacks or which does not list the function) or in a sleepable fmod_ret set (bpf_fentry_test1's since 6.2)`,
        { cause: e },
      );
    throw e;
  }
}
