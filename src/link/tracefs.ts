// tracefs: tracepoint ids, and legacy kprobe/uprobe events (when there is no PMU). Every event
// bee-ts creates is removed on detach and, as a safety net, at process exit.
import { BeeTsError } from '../errors.js';
import fs from 'node:fs';
import { tracefsRoot } from '../syscall/features.js';

export class TracefsError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('TRACEFS', message, options);
  }
}

export function tracefs(): string {
  const t = tracefsRoot();
  if (!t) throw new TracefsError('tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing');
  return t;
}

/** The id of events/<category>/<name>, with a clear error when the tracepoint does not exist. */
export function tracepointId(category: string, name: string): number {
  const p = `${tracefs()}/events/${category}/${name}/id`;
  try {
    return Number(fs.readFileSync(p, 'utf8').trim());
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TracefsError(`tracepoint ${category}/${name} does not exist (no ${p}); list them in ${tracefs()}/available_events`);
    throw new TracefsError(`cannot read ${p}: ${code}`);
  }
}

const live = new Set<string>();
let counter = 0;

let exitHookInstalled = false;

function cleanupAll(): void {
  for (const e of [...live]) removeProbeEvent(e);
}

/** Add a `p:`/`r:` event to kprobe_events or uprobe_events; returns "group/event". */
export function addProbeEvent(kind: 'kprobe' | 'uprobe', retprobe: boolean, target: string): { group: string; event: string; id: number; file: string } {
  const group = `bee_ts_${process.pid}`;
  const event = `${kind === 'kprobe' ? 'k' : 'u'}${retprobe ? 'ret' : ''}_${counter++}_${target.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40)}`;
  const file = `${tracefs()}/${kind}_events`;
  try {
    fs.appendFileSync(file, `${retprobe ? 'r' : 'p'}:${group}/${event} ${target}\n`);
  } catch (e) {
    throw new TracefsError(`cannot add ${kind} event for '${target}' via ${file}: ${(e as NodeJS.ErrnoException).code} (is the function traceable? see available_filter_functions)`);
  }
  const key = `${file}\u0000${group}/${event}`;
  live.add(key);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', cleanupAll);
  }
  try {
    return { group, event, id: tracepointId(group, event), file };
  } catch (e) {
    removeProbeEvent(key);
    throw e;
  }
}

export function removeProbeEvent(key: string): void {
  const [file, name] = key.split('\u0000');
  live.delete(key);
  try {
    fs.appendFileSync(file!, `-:${name}\n`);
  } catch {
    /* already gone */
  }
}

/** Stop tracking an event without removing it (its link was pinned to outlive us). */
export function forgetProbeEvent(key: string): void {
  live.delete(key);
}

export function probeEventKey(file: string, group: string, event: string): string {
  return `${file}\u0000${group}/${event}`;
}

/** Events of ours still registered (tests check this is empty). */
export function liveProbeEvents(): string[] {
  return [...live];
}
