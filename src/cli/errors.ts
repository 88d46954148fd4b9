import { BeeTsError } from '../errors.js';
/** A mistake in how the command was called (exit 2, with usage hint). */
export class UsageError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('USAGE', message, options);
  }
}
