import { BeeTsError } from '../errors.js';
/** A mistake in how the command was called (exit 2, with usage hint). */
export class UsageError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('USAGE', message, options);
  }
}

/** A run-time failure (exit 1) whose message is bpftool's; `stdout` is printed before it. */
export class CliExit extends BeeTsError {
  constructor(
    message: string,
    readonly stdout?: string,
  ) {
    super('CLI_EXIT', message);
  }
}
