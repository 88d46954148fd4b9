// Where the installed package's own files are (the headers it ships, the benchmark's objects):
// computed once from this module's location in dist/cli/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** bee-ts's BPF headers (bpf_helpers.h, usdt.bpf.h, solo_types.h, ...). */
export const INCLUDE_DIR = path.join(PKG_ROOT, 'include');
