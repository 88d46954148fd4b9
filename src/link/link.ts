// Links: what an attachment leaves behind. Each one detaches on close/dispose, and all live
// links are closed on normal process exit (a hook added with the first link, not on import). On
// SIGINT/SIGTERM/SIGHUP/SIGQUIT they are closed only when the application asks with
// closeLinksOnSignals() (the CLI does): a library does not take over the process's signals.
import { BeeTsError } from '../errors.js';
import { linkDetach, objPin } from '../syscall/bpf.js';
import type { Fd } from '../syscall/fd.js';
import { forgetProbeEvent, removeProbeEvent } from './tracefs.js';

/** A link cannot do what was asked (pin a link that is not a BPF link). */
export class LinkError extends BeeTsError {
  constructor(message: string) {
    super('LINK', message);
  }
}

export interface Link extends Disposable {
  readonly kind: string;
  readonly program: string;
  /** What it is attached to: a tracepoint, function, interface... */
  readonly target: string;
  /** The BPF link fd, when the attachment is a BPF link (pinnable). */
  readonly fd?: Fd;
  pin(path: string): void;
  /** Keep the attachment after this process exits (once pinned): forget it without detaching. */
  persist(): void;
  /** Detach even if the link is pinned elsewhere (BPF_LINK_DETACH). */
  detach(): void;
  close(): void;
}

const liveLinks = new Set<BaseLink>();
let exitHookInstalled = false;

/** Detach every live link of this process (exit paths, signal handlers, fatal errors). */
export function closeAllLinks(): void {
  for (const l of [...liveLinks]) l.close();
}

/** The signals whose default action ends the process and that a handler can catch. */
export const FATAL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', closeAllLinks);
}

/**
 * Close every live link when one of `signals` arrives, then let the signal do what it would
 * have done: when the application has its own listener for it (e.g. `bee-ts run` shutting down
 * cleanly) that listener decides; otherwise the process is terminated by the signal, as by
 * default. Attachments that outlive their fds (netlink TC/XDP, PROG_ATTACH, tracefs events) are
 * removed this way instead of being left in the kernel. Returns a function that removes the
 * handlers again.
 */
export function closeLinksOnSignals(signals: readonly NodeJS.Signals[] = FATAL_SIGNALS): () => void {
  const installed: [NodeJS.Signals, () => void][] = [];
  for (const sig of signals) {
    const handler = () => {
      const others = process.listenerCount(sig) - 1;
      closeAllLinks();
      if (others === 0) {
        // Nobody else listens: behave like the default action (terminate by the signal).
        process.off(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
    installed.push([sig, handler]);
  }
  return () => {
    for (const [sig, h] of installed) process.off(sig, h);
  };
}

/** What an attachment holds besides its BPF link fd; all released on close. @internal */
export interface LinkResources {
  /** Other fds kept open for the attachment (perf events, a program reference). */
  owned?: Fd[];
  /** tracefs events to remove after detaching. */
  probeEvents?: string[];
  /** Detaches what is not an fd (a netlink TC filter or XDP program, PROG_ATTACH); runs once. */
  detach?: () => void;
}

export class BaseLink implements Link {
  #closed = false;
  private readonly owned: Fd[];
  private probeEvents: string[];
  private detachFn?: () => void;
  /** @internal */
  constructor(
    readonly kind: string,
    readonly program: string,
    readonly target: string,
    readonly fd: Fd | undefined,
    keep: LinkResources = {},
  ) {
    this.owned = keep.owned ?? [];
    this.probeEvents = keep.probeEvents ?? [];
    this.detachFn = keep.detach;
    liveLinks.add(this);
    installExitHook();
  }

  get closed(): boolean {
    return this.#closed;
  }

  pin(path: string): void {
    if (!this.fd) throw new LinkError(`${this.kind} link of '${this.program}' is not a BPF link (this kernel attaches it through ${this.detachFn ? 'netlink' : 'a perf event fd'}); it cannot be pinned`);
    objPin(this.fd.value, path, `pin link of '${this.program}' at ${path}`);
  }

  /**
   * Keep the attachment after this process exits (once pinned): forget it here without
   * detaching, and leave any tracefs event it needs in place.
   */
  persist(): void {
    liveLinks.delete(this);
    this.detachFn = undefined; // a netlink attachment simply stays
    for (const e of this.probeEvents) forgetProbeEvent(e);
    this.probeEvents = [];
  }

  /** Detach even if the link is pinned elsewhere (BPF_LINK_DETACH). */
  detach(): void {
    if (this.fd && !this.fd.closed) linkDetach(this.fd.value);
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    liveLinks.delete(this);
    if (this.detachFn) {
      const fn = this.detachFn;
      this.detachFn = undefined;
      try {
        fn();
      } catch (e) {
        // Closing runs on exit and signals too: report, do not throw out of an exit handler.
        process.stderr.write(`bee-ts: detaching ${this.kind} '${this.program}' from ${this.target}: ${(e as Error).message}\n`);
      }
    }
    this.fd?.close();
    for (const f of this.owned) f.close();
    for (const e of this.probeEvents) removeProbeEvent(e);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function liveLinkCount(): number {
  return liveLinks.size;
}
