// `bee-ts prog loadall <obj> <dir> [--pinmaps <dir>] [--autoattach] [--set name=value]`:
// load every program of an object and pin it (or, with --autoattach, attach it and pin the
// link, so it stays attached after we exit; removing the pin detaches it).
import fs from 'node:fs';
import path from 'node:path';
import { BpfObject, type Program } from '../loader/object.js';
import type { Link } from '../link/link.js';
import { canAutoAttach } from '../link/attach.js';
import { UsageError } from './errors.js';
import { pinAndRelease } from './objects.js';

/** `name=value`: JSON when it parses (numbers, true/false, arrays, objects), else a string. */
export function parseSet(s: string): [string, unknown] {
  const i = s.indexOf('=');
  if (i <= 0) throw new UsageError(`--set expects name=value, got '${s}'`);
  const name = s.slice(0, i);
  const raw = s.slice(i + 1);
  let v: unknown = raw;
  if (/^-?\d+$/.test(raw)) v = BigInt(raw);
  else if (/^0x[0-9a-f]+$/i.test(raw)) v = BigInt(raw);
  else {
    try {
      v = JSON.parse(raw);
    } catch {
      v = raw;
    }
  }
  return [name, v];
}

export function applySets(obj: BpfObject, sets: string[]): void {
  for (const s of sets) {
    const [name, v] = parseSet(s);
    try {
      obj.setConstant(name, v);
    } catch (e) {
      throw new UsageError(`--set ${s}: ${(e as Error).message}`);
    }
  }
}

export interface LoadallOptions {
  pinmaps?: string;
  autoattach?: boolean;
  set?: string[];
  verbose?: boolean;
  type?: string;
}

function ensureBpffsDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * bpftool 7.2+'s `--autoattach`: a program that cannot attach (no automatic attach point, or the
 * attach fails) is pinned as a program instead, with bpftool's note on stderr, and the others go
 * on. Maps are pinned as the object loads; if anything fails afterwards, the pins made so far (maps
 * included) are removed and nothing stays attached.
 */
export function loadall(file: string, dir: string, o: LoadallOptions): string[] {
  const obj = BpfObject.open(file, { pinMaps: o.pinmaps, verbose: o.verbose, onWarning: (w) => process.stderr.write(`Warning: ${w}\n`) });
  applySets(obj, o.set ?? []);
  if (o.pinmaps) ensureBpffsDir(o.pinmaps);
  obj.load();
  const pinned: string[] = [];
  const links: Link[] = [];
  try {
    ensureBpffsDir(dir);
    for (const p of obj.programs.values()) {
      const target = path.join(dir, p.name);
      const l = o.autoattach ? tryAttach(p) : undefined;
      if (l) {
        links.push(l);
        l.pin(target);
      } else p.pin(target);
      pinned.push(target);
    }
  } catch (e) {
    for (const t of pinned) fs.rmSync(t, { force: true });
    for (const l of links) l.close();
    obj.discardNewPins();
    obj.close();
    throw e;
  }
  // Pinned links keep programs attached; our own fds can go.
  for (const l of links) {
    l.persist();
    l.close();
  }
  obj.close();
  return pinned;
}

/** Attach from the section alone, or undefined (with bpftool's note) when the program cannot. */
function tryAttach(p: Program): Link | undefined {
  if (canAutoAttach(p)) {
    try {
      return p.attach();
    } catch (e) {
      process.stderr.write(`Warning: program '${p.name}': ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  process.stderr.write(`Program ${p.name} does not support autoattach, falling back to pinning\n`);
  return undefined;
}

/**
 * prog load OBJ PATH: like bpftool, load the object's first program only (the others are not
 * loaded, so their verifier verdicts do not matter) and pin it at PATH; maps are created (and
 * pinned with --pinmaps). With --autoattach, attach it and pin the link instead (or, if it cannot
 * attach, pin the program, as bpftool 7.2+ does).
 */
export function progLoad(file: string, pin: string, o: LoadallOptions): string {
  const first = BpfObject.open(file).spec.programs[0];
  if (!first) throw new UsageError(`${file}: has no programs`);
  const obj = BpfObject.open(file, { pinMaps: o.pinmaps, verbose: o.verbose, autoload: [first.name], onWarning: (w) => process.stderr.write(`Warning: ${w}\n`) });
  applySets(obj, o.set ?? []);
  if (o.pinmaps) ensureBpffsDir(o.pinmaps);
  obj.load();
  try {
    ensureBpffsDir(path.dirname(pin));
    const p = obj.program(first.name);
    const l = o.autoattach ? tryAttach(p) : undefined;
    if (l) pinAndRelease(l, pin);
    else p.pin(pin);
  } catch (e) {
    obj.discardNewPins();
    throw e;
  } finally {
    obj.close();
  }
  return pin;
}
