// Selecting and opening kernel objects the way bpftool does (`id N | pinned PATH | name NAME |
// tag HEX`, with its keyword prefixes), BTF by id, -f pinned paths, and the helpers the prog,
// map, link and btf commands share.
import { type Btf, parseBtf } from '../btf/btf.js';
import type { Link } from '../link/link.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { fdById, listIds, objGet } from '../syscall/bpf.js';
import { BpfError, ENOENT } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { btfInfo, mapInfo, progInfo, type ProgInfo } from '../syscall/info.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText, writeOut } from './format.js';
import { keyword } from './argv.js';
import { pinnedPaths } from './pins.js';

export const out = (s: string) => writeOut(s);

export const hexBytes = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
export const hexArray = (b: Uint8Array) => Array.from(b, (x) => `0x${x.toString(16).padStart(2, '0')}`);

// ---- BTF by id (cached per process) ----

const btfCache = new Map<number, Btf>();
export function btfById(id: number): Btf | undefined {
  if (!id) return undefined;
  const hit = btfCache.get(id);
  if (hit) return hit;
  const fd = fdById('btf', id);
  try {
    const info = btfInfo(fd.value, true);
    // Module BTF is split on top of vmlinux.
    const base = info.kernelBtf && info.name !== 'vmlinux' ? vmlinuxBtf() : undefined;
    const btf = parseBtf(info.data!, { file: `btf id ${id}`, base });
    btfCache.set(id, btf);
    return btf;
  } finally {
    fd.close();
  }
}

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

export function openProgs(sel: { how: string; what: string }): Fd[] {
  if (sel.how === 'id') return [fdById('prog', Number(sel.what))];
  if (sel.how === 'pinned') return [objGet(sel.what, 0, `prog ${sel.what}`, 'prog')];
  const fds = openMatching('prog', (fd) => {
    const info = progInfo(fd.value, { funcInfo: true });
    return sel.how === 'tag' ? info.tag === sel.what.toLowerCase() : fullProgName(info) === sel.what || info.name === sel.what;
  });
  if (fds.length === 0) throw new CliExit(`can't find program by ${sel.how} '${sel.what}'`);
  return fds;
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

/** bpftool prints the BTF function name when the kernel's 15-char name is truncated. */
export function fullProgName(info: ProgInfo): string {
  if (info.name.length === 15 && info.btfId && info.firstFuncTypeId) {
    try {
      const btf = btfById(info.btfId);
      const n = btf?.typeOrUndefined(info.firstFuncTypeId)?.name;
      if (n && n.startsWith(info.name)) return n;
    } catch {
      /* keep the kernel's name */
    }
  }
  return info.name;
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

/** Pin a link and let this process go of it: the pin keeps the attachment (closed again when pinning fails). */
export function pinAndRelease(link: Link, path: string): void {
  try {
    link.pin(path);
  } catch (e) {
    link.close();
    throw e;
  }
  link.persist();
  link.close();
}

/**
 * bpftool-style `keyword value...` words: each known keyword is followed by `arity[keyword]`
 * words (inner_map takes a selector, `id N`), and may appear once.
 */
export function keywordArgs(cmd: string, words: string[], arity: Record<string, number>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < words.length; ) {
    const k = words[i]!;
    const n = arity[k];
    if (n === undefined) throw new UsageError(`${cmd}: unknown keyword '${k}' (${Object.keys(arity).join(', ')})`);
    if (i + n >= words.length) throw new UsageError(`${cmd}: ${k} needs a value`);
    if (k in out) throw new UsageError(`${cmd}: ${k} given twice`);
    out[k] = words.slice(i + 1, i + 1 + n);
    i += 1 + n;
  }
  return out;
}

export function openLink(sel: { how: string; what: string }): Fd {
  return sel.how === 'id' ? fdById('link', Number(sel.what)) : objGet(sel.what, 0, `link ${sel.what}`, 'link');
}

/** BTF for `btf dump id N | map MAP | prog PROG`: the kernel object's BTF, by id. */
export function kernelBtfFor(source: string, what: string, selector: string[]): Btf {
  let id: number;
  if (source === 'id') {
    if (!/^\d+$/.test(what)) throw new UsageError(`btf dump id: '${what}' is not an id`);
    id = Number(what);
  } else if (source === 'map') {
    const fd = openMap(parseSelector(selector, 'map'));
    try {
      id = mapInfo(fd.value).btfId;
    } finally {
      fd.close();
    }
  } else {
    const fds = openProgs(parseSelector(selector, 'prog'));
    try {
      id = progInfo(fds[0]!.value).btfId;
    } finally {
      for (const f of fds) f.close();
    }
  }
  if (!id) throw new CliExit(`${source} ${what} has no BTF`);
  return btfById(id)!;
}
