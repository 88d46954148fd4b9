// What the command modules get from main.ts: the wrappers that run a command (and record how its
// errors are printed), bee's image flags, and the version.
import type { Command } from 'commander';
import type { ImageFlags } from './images.js';

export type Action = (json: boolean | undefined, fn: () => Promise<void> | void) => Promise<void>;

export interface CliContext {
  /** Run a command that needs no kernel. */
  run: Action;
  /** Run a command that talks to the kernel (the native syscall backend is loaded on demand). */
  kernel: Action;
  /** `run`: it handles a closed stdout itself, and the process exits once it returns. */
  longRunning(): void;
  /** bee's image store and registry flags, the command's own over the global ones. */
  imageFlags(): ImageFlags;
  /** Declare bee's image flags on a command too (they may follow it, as bee's persistent flags). */
  withImageFlags(cmd: Command): Command;
  version: string;
}

/** A repeatable option's values. */
export const collect = (v: string, prev: string[] = []) => [...prev, v];
