// The one error base: every error bee-ts throws on purpose is a BeeTsError, with a stable `code`
// (for programs; the message is for people) and the standard `cause` when it wraps another error.
// Importable from every layer (it imports nothing).

export class BeeTsError extends Error {
  /**
   * What kind of failure this is, stable across releases: `ELF_MALFORMED`, `SPEC_INVALID`,
   * `ATTACH`, `NOT_SUPPORTED`, ... For BpfError (and its subclasses) the errno name: `EPERM`.
   */
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The running kernel lacks a feature: names the feature and the first kernel that has it. */
export class NotSupportedError extends BeeTsError {
  constructor(
    /** What is missing, e.g. `uprobe.multi links`. */
    readonly feature: string,
    /** The first Linux version with it, e.g. `6.6`. */
    readonly minKernel: string,
    /** The running kernel's release, when known. */
    readonly kernel?: string,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super('NOT_SUPPORTED', `${feature} needs Linux ${minKernel} or later${kernel ? ` (this is ${kernel})` : ''}${detail ? `: ${detail}` : ''}`, options);
  }
}
