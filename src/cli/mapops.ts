// bpftool's queue/stack and freeze commands: map pop|dequeue MAP (BPF_MAP_LOOKUP_AND_DELETE_ELEM)
// and map freeze MAP (BPF_MAP_FREEZE). peek, push and enqueue are lookup and update without a key
// (inspect.ts).
import { Cmd, ElemAttr, mapFreeze } from '../syscall/bpf.js';
import { ENOENT } from '../syscall/errno.js';
import { CliExit, UsageError } from './errors.js';
import { jsonText } from './format.js';
import { errText, keyValueText, openMapWithBtf } from './map.js';
import { parseSelector } from './objects.js';

/** map pop|dequeue MAP: take the next value out, printed as lookup prints it. */
export function mapPop(args: string[], json: boolean, cmd: string): void {
  const sel = parseSelector(args, 'map');
  if (sel.rest.length) throw new UsageError(`map ${cmd} MAP: unexpected '${sel.rest.join(' ')}'`);
  const m = openMapWithBtf(sel);
  try {
    const k = new Uint8Array(m.info.keySize);
    const v = new Uint8Array(Math.max(m.map.valueBufSize, 1));
    const r = new ElemAttr(m.fd.value).call(Cmd.MAP_LOOKUP_AND_DELETE_ELEM, m.info.keySize ? k : null, v);
    if (r < 0) {
      // bpftool prints "Error: empty map" on stdout (null with -j) and fails.
      if (-r === ENOENT) throw new CliExit('', json ? jsonText(null) + '\n' : 'Error: empty map\n');
      throw new CliExit(`pop failed: ${errText(-r)}`);
    }
    process.stdout.write(keyValueText(m, k, v.subarray(0, m.map.valueBufSize), json));
  } finally {
    m.fd.close();
  }
}

/** map freeze MAP: no more writes from user space (programs still may). */
export function mapFreezeCmd(args: string[], json: boolean): void {
  const sel = parseSelector(args, 'map');
  if (sel.rest.length) throw new UsageError(`map freeze MAP: unexpected '${sel.rest.join(' ')}'`);
  const m = openMapWithBtf(sel);
  try {
    try {
      mapFreeze(m.fd.value, `map ${sel.what}`);
    } catch (e) {
      throw new CliExit(`failed to freeze map: ${e instanceof Error && 'errno' in e ? errText((e as { errno: number }).errno) : String(e)}`);
    }
    if (json) process.stdout.write(jsonText(null) + '\n');
  } finally {
    m.fd.close();
  }
}
