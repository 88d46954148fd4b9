// What a probe argument names, decided before any image code is loaded: C source (which
// resolveProbe refuses with its advice), a compiled probe on disk, or else an image reference.
import fs from 'node:fs';

export const isProbeSource = (arg: string): boolean => /\.(c|h)$/.test(arg);

/** A compiled probe on disk: run as it is, with no image store or registry involved. */
export const isProbeFile = (arg: string): boolean => !isProbeSource(arg) && fs.existsSync(arg);
