// Selecting and opening kernel objects the way bpftool does (`id N | pinned PATH | name NAME`,
// with its keyword prefixes), every object of a kind in id order, -f pinned paths, and the output
// helpers the listings share: what `prog show` and `map show` need (show.ts), without BTF. The
// rest of the helpers the commands share (BTF by id, programs by name or tag) are objects.ts's,
// which re-exports these.
import { fdById, listIds, objGet } from '../syscall/bpf.js';
import { BpfError, ENOENT } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { mapInfo, type ProgInfo } from '../syscall/info.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText, writeOut } from './format.js';
import { keyword } from './argv.js';
import { pinnedPaths } from './pins.js';

export const out = (s: string) => writeOut(s);

export const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
export const hexArray = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);

/** Whether the kernel's program name may be cut short (15 characters) and BTF has the whole one (objects.ts fullProgName). */
export const nameMayBeTruncated = (info: ProgInfo): boolean => info.name.length === 15 && !!info.btfId && !!info.firstFuncTypeId;

// ---- selecting objects: id N | pinned PATH | name NAME (| tag HEX for programs) ----

export function parseSelector(args: string[], kind: 'prog' | 'map' | 'link' | 'btf'): { how: string; what: string; rest: string[] } {
  const [word, what, ...rest] = args;
  // bpftool's order (its prefixes: `i 5`, `p /sys/fs/bpf/x`).
  const allowed = kind === 'prog' ? ['id', 'tag', 'name', 'pinned'] : kind === 'map' ? ['id', 'name', 'pinned'] : kind === 'link' ? ['id', 'pinned'] : ['id'];
  const how = keyword(word, allowed);
  if (!how || what === undefined)
    throw new UsageError(`expected ${kind.toUpperCase()} as ${allowed.map((a) => `${a} ${a === 'id' ? 'N' : a === 'pinned' ? 'PATH' : a === 'tag' ? 'HEX' : 'NAME'}`).join(' | ')}`);
  if (how === 'id' && !/^\d+$/.test(what)) throw new UsageError(`bad ${kind} id '${what}'`);
  return { how, what, rest };
}

export function openMap(sel: { how: string; what: string }): Fd {
  if (sel.how === 'id') return fdById('map', Number(sel.what));
  if (sel.how === 'pinned') return objGet(sel.what, 0, `map ${sel.what}`, 'map');
  const found = openMatching('map', (fd) => mapInfo(fd.value).name === sel.what);
  if (found.length === 0) throw new CliExit(`can't find map by name '${sel.what}'`);
  if (found.length > 1) {
    for (const f of found) f.close();
    throw new CliExit(`several maps match name '${sel.what}': use 'id N'`);
  }
  return found[0]!;
}

/** -f/--bpffs: pinned paths by id, or undefined without -f (looked up once per command). */
const pinsCache: Partial<Record<'prog' | 'map' | 'link', Map<number, string[]>>> = {};
export function pinsOf(kind: 'prog' | 'map' | 'link', id: number, o: Record<string, unknown>): void {
  if (!globals.bpffs) return;
  const pins = (pinsCache[kind] ??= pinnedPaths(kind));
  // bpftool: a "pinned" key (maybe empty) whenever anything of this kind is pinned at all.
  if (pins.size) o.pinned = pins.get(id) ?? [];
}
export const pinnedLines = (o: Record<string, unknown>) => ((o.pinned as string[] | undefined) ?? []).map((p) => `\tpinned ${p}\n`).join('');

/** An fd for every object of a kind, in id order (objects can vanish between GET_NEXT_ID and GET_FD_BY_ID). */
export function* openAll(kind: 'prog' | 'map' | 'link' | 'btf'): Generator<Fd> {
  for (const id of listIds(kind)) {
    try {
      yield fdById(kind, id);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) continue;
      throw e;
    }
  }
}

/** Open fds of the objects that match (the caller closes them). */
export function openMatching(kind: 'prog' | 'map', match: (fd: Fd) => boolean): Fd[] {
  const out: Fd[] = [];
  for (const fd of openAll(kind)) {
    if (match(fd)) out.push(fd);
    else fd.close();
  }
  return out;
}

export function eachId(kind: 'prog' | 'map' | 'link' | 'btf', f: (fd: Fd) => void): void {
  for (const fd of openAll(kind)) {
    try {
      f(fd);
    } finally {
      fd.close();
    }
  }
}

/**
 * `map show` / `link show`: every object of the kind, or the one `args` selects, each as its
 * bpftool JSON object (`-j`: an array for all, the object alone for one) or its text lines.
 */
export function showObjects(kind: 'map' | 'link', args: string[], json: boolean, open: (sel: ReturnType<typeof parseSelector>) => Fd, toJson: (fd: number) => Record<string, unknown>, toText: (o: Record<string, unknown>) => string): void {
  if (args.length === 0) {
    const objs: Record<string, unknown>[] = [];
    eachId(kind, (fd) => objs.push(toJson(fd.value)));
    out(json ? jsonText(objs) + '\n' : objs.map(toText).join(''));
    return;
  }
  const fd = open(parseSelector(args, kind));
  try {
    const o = toJson(fd.value);
    out(json ? jsonText(o) + '\n' : toText(o));
  } finally {
    fd.close();
  }
}
