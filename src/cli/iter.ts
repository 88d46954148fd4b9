// `bee-ts iter pin OBJ PATH [map MAP]`, like bpftool iter pin: load OBJ, attach its first program
// as an iterator (over MAP for targets that walk one map), pin the link at PATH. Reading PATH
// (cat) then runs one walk.
import { BpfObject } from '../loader/object.js';
import type { IterLink } from '../link/iter.js';
import { UsageError } from './errors.js';
import { openMap, parseSelector, pinAndRelease } from './objects.js';

export function iterPin(args: string[]): void {
  const [file, pinPath, kw, ...rest] = args;
  if (!file || !pinPath) throw new UsageError('expected: iter pin OBJ PATH [map MAP]');
  if (kw !== undefined && kw !== 'map') throw new UsageError(`iter pin: unknown keyword '${kw}' (expected: map MAP)`);
  const mapFd = kw === 'map' ? openMap(parseSelector(rest, 'map')) : undefined;
  try {
    using obj = BpfObject.open(file).load();
    const first = obj.spec.programs.find((p) => obj.programs.has(p.name));
    if (!first) throw new UsageError(`${file} has no program`);
    const prog = obj.program(first.name);
    if (prog.spec.attach !== 'iter') throw new UsageError(`${file}: the first program '${prog.name}' (${prog.section}) is not an iterator (SEC("iter/..."))`);
    const link = prog.attach({ iter: mapFd ? { map: mapFd.value } : undefined }) as IterLink;
    // The pin keeps the iterator; this process lets go of it.
    pinAndRelease(link, pinPath);
  } finally {
    mapFd?.close();
  }
}
