// tracepoint (SEC("tp/<category>/<name>")): a perf event of type tracepoint with the event's
// tracefs id; raw_tracepoint (SEC("raw_tp/<name>")): BPF_RAW_TRACEPOINT_OPEN by name.
import { rawTracepointOpen } from '../syscall/bpf.js';
import { BpfError, ENOENT } from '../syscall/errno.js';
import { PERF_TYPE_TRACEPOINT } from '../syscall/perf.js';
import { AttachError, defineHook } from './kinds.js';
import { BaseLink } from './link.js';
import { type PerfCookieOption, perfLink } from './perf.js';
import { tracepointId } from './tracefs.js';

export type TracepointOptions = PerfCookieOption;

export const tracepointHook = defineHook('tracepoint', 'target', (p, target, o: TracepointOptions) => {
  const parts = target.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new AttachError(p.name, `tracepoint '${target}' must be <category>/<name> (e.g. syscalls/sys_enter_openat)`);
  let id: number;
  try {
    id = tracepointId(parts[0], parts[1]);
  } catch (e) {
    throw new AttachError(p.name, (e as Error).message, { cause: e });
  }
  return perfLink(p, 'tracepoint', target, { type: PERF_TYPE_TRACEPOINT, config: BigInt(id) }, -1, 0, `tracepoint ${target}`, o.cookie);
});

export const rawTracepointHook = defineHook('raw_tracepoint', 'target', (p, target) => {
  if (!target) throw new AttachError(p.name, 'raw tracepoint needs a name: SEC("raw_tp/<name>")');
  try {
    const fd = rawTracepointOpen(target, p.fd.value, `raw tracepoint ${target}`);
    return new BaseLink('raw_tracepoint', p.name, target, fd);
  } catch (e) {
    if (e instanceof BpfError && e.errno === ENOENT) throw new AttachError(p.name, `raw tracepoint '${target}' does not exist`);
    throw e;
  }
});
