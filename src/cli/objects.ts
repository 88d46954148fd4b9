// The helpers the prog, map, link and btf commands share beyond select.ts's (which it re-exports:
// bpftool's object selectors, every object of a kind, -f pinned paths): BTF by id, programs by id,
// pin, name (the BTF function name of a truncated one) or tag, links, keyword arguments.
import { type Btf, parseBtf } from '../btf/btf.js';
import type { Link } from '../link/link.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { fdById, objGet } from '../syscall/bpf.js';
import type { Fd } from '../syscall/fd.js';
import { btfInfo, mapInfo, progInfo, type ProgInfo } from '../syscall/info.js';
import { CliExit, UsageError } from './errors.js';
import { nameMayBeTruncated, openMap, openMatching, parseSelector } from './select.js';

export { eachId, hexArray, hexBytes, openAll, openMap, openMatching, out, parseSelector, pinnedLines, pinsOf, showObjects } from './select.js';

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

/** bpftool prints the BTF function name when the kernel's 15-char name is truncated. */
export function fullProgName(info: ProgInfo): string {
  if (nameMayBeTruncated(info)) {
    try {
      const btf = btfById(info.btfId);
      const n = btf?.typeOrUndefined(info.firstFuncTypeId!)?.name;
      if (n && n.startsWith(info.name)) return n;
    } catch {
      /* keep the kernel's name */
    }
  }
  return info.name;
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
