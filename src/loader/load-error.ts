// The loader's error for an object that cannot be loaded as it is: names the file and what to do.
import { BeeTsError } from '../errors.js';

export class LoadError extends BeeTsError {
  constructor(
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('LOAD', `${file}: ${message}`, options);
  }
}
