// `-f/--bpffs`: the pinned paths of each program, map or link, found as bpftool finds them: every
// file under every bpffs mount of /proc/mounts is opened with BPF_OBJ_GET and its id noted.
import fs from 'node:fs';
import { objGet } from '../syscall/bpf.js';
import { linkInfo, mapInfo, progInfo } from '../syscall/info.js';
import { hashmapOrder } from './format.js';

type Kind = 'prog' | 'map' | 'link';
const ANON: Record<Kind, string> = { prog: 'anon_inode:bpf-prog', map: 'anon_inode:bpf-map', link: 'anon_inode:bpf_link' };

/** Mount points of bpffs, in /proc/mounts order (octal escapes decoded). */
export function bpffsMounts(): string[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'bpf' && f[1])
    .map((f) => f[1]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/**
 * id → pinned paths of every `kind` object. Directories are walked depth-first in the order the
 * kernel lists them (as nftw does); several paths of one object come in bpftool's hash-table order.
 * Depth and count are bounded so a hostile tree cannot make this run forever.
 */
export function pinnedPaths(kind: Kind): Map<number, string[]> {
  const found: [number, string][] = [];
  let budget = 100_000;
  const walk = (dir: string, depth: number) => {
    if (depth > 64) return;
    let d: fs.Dir;
    try {
      d = fs.opendirSync(dir);
    } catch {
      return;
    }
    try {
      for (let e = d.readSync(); e && budget-- > 0; e = d.readSync()) {
        const p = `${dir === '/' ? '' : dir}/${e.name}`;
        if (e.isDirectory()) walk(p, depth + 1);
        else if (e.isFile()) note(p);
      }
    } finally {
      d.closeSync();
    }
  };
  const note = (p: string) => {
    let fd;
    try {
      fd = objGet(p, 0, p);
    } catch {
      return;
    }
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd.value}`) !== ANON[kind]) return;
      const id = kind === 'prog' ? progInfo(fd.value).id : kind === 'map' ? mapInfo(fd.value).id : linkInfo(fd.value).id;
      found.push([id, p]);
    } catch {
      // gone or unreadable meanwhile: not listed
    } finally {
      fd.close();
    }
  };
  for (const m of bpffsMounts()) walk(m, 0);
  return hashmapOrder(found);
}
