// A reproducible tar writer for container image layers: POSIX ustar headers (PAX extended headers
// for names or link targets that do not fit), entries sorted by path, parents before children,
// every mtime the same fixed time, uid/gid 0 with no user or group names, modes normalised
// (0755 for directories and executables, 0644 for other files). Same entries in, same bytes out.
import { BeeTsError } from '../errors.js';
export type TarEntry =
  | { path: string; type: 'file'; data: Uint8Array; executable?: boolean; mode?: number }
  | { path: string; type: 'dir'; mode?: number }
  | { path: string; type: 'symlink'; target: string };

export class TarError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('TAR', message, options);
  }
}

const BLOCK = 512;

/** `usr/bin/node` from `/usr/bin/node`, `./usr//bin/` ...; refuses `..` and empty names. */
export function tarPath(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.length === 0 || parts.some((x) => x === '..')) throw new TarError(`bad path in a layer: '${p}'`);
  return parts.join('/');
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function putString(buf: Buffer, off: number, len: number, s: string): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > len) throw new TarError(`tar field too long: '${s}'`);
  b.copy(buf, off);
}

function header(name: string, typeflag: string, size: number, mode: number, mtime: number, linkname = '', prefix = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  putString(h, 0, 100, name);
  putString(h, 100, 8, octal(mode, 8));
  putString(h, 108, 8, octal(0, 8));
  putString(h, 116, 8, octal(0, 8));
  putString(h, 124, 12, octal(size, 12));
  putString(h, 136, 12, octal(mtime, 12));
  h.fill(' ', 148, 156);
  putString(h, 156, 1, typeflag);
  putString(h, 157, 100, linkname);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 329, 8, octal(0, 8));
  putString(h, 337, 8, octal(0, 8));
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const byte of h) sum += byte;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

/** Split a path into ustar's prefix (≤155 bytes) and name (≤100 bytes) at a '/', if it can be. */
function splitUstar(p: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(p) <= 100) return { name: p, prefix: '' };
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name) return { name, prefix };
  }
  return undefined;
}

/** A PAX record `"<len> key=value\n"`, whose length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function pad(n: number): Buffer {
  const r = n % BLOCK;
  return Buffer.alloc(r ? BLOCK - r : 0);
}

/**
 * The tar archive of `entries` (plus every parent directory they imply), sorted by path.
 * A path given twice, or used both as a directory and as a file or link, is an error.
 */
export function writeTar(entries: TarEntry[], mtime = 0): Buffer {
  const byPath = new Map<string, TarEntry>();
  const add = (e: TarEntry) => {
    const prev = byPath.get(e.path);
    if (prev) {
      if (prev.type === 'dir' && e.type === 'dir') return;
      throw new TarError(`'${e.path}' is in the layer twice (${prev.type} and ${e.type})`);
    }
    byPath.set(e.path, e);
  };
  for (const e of entries) {
    const p = tarPath(e.path);
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const prev = byPath.get(dir);
      if (prev && prev.type !== 'dir') throw new TarError(`'${dir}' is a ${prev.type} in the layer, but '${p}' is under it`);
      if (!prev) byPath.set(dir, { path: dir, type: 'dir' });
    }
    add({ ...e, path: p });
  }
  const chunks: Buffer[] = [];
  const sorted = [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  for (const e of sorted) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const link = e.type === 'symlink' ? e.target : '';
    const split = splitUstar(name);
    const pax: string[] = [];
    if (!split) pax.push(paxRecord('path', name));
    if (Buffer.byteLength(link) > 100) pax.push(paxRecord('linkpath', link));
    if (pax.length) {
      const body = Buffer.from(pax.join(''), 'utf8');
      chunks.push(header('PaxHeader', 'x', body.length, 0o644, mtime), body, pad(body.length));
    }
    const hn = split ?? { name: name.replace(/[^\x20-\x7e]/g, '_').slice(-100), prefix: '' };
    if (e.type === 'dir') chunks.push(header(hn.name, '5', 0, e.mode ?? 0o755, mtime, '', hn.prefix));
    else if (e.type === 'symlink') chunks.push(header(hn.name, '2', 0, 0o777, mtime, Buffer.byteLength(link) > 100 ? '' : link, hn.prefix));
    else {
      const data = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      chunks.push(header(hn.name, '0', data.length, e.mode ?? (e.executable ? 0o755 : 0o644), mtime, '', hn.prefix), data, pad(data.length));
    }
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}
