// `bee-ts map event_pipe MAP [cpu N index M]`: like bpftool 7.1, open a BPF_OUTPUT perf ring per
// CPU (16 pages, raw samples with their time), store each at its key of the perf event array, and
// print every record until SIGINT/SIGTERM/SIGHUP: `== @sec.nsec CPU: c index: i =====` and the
// bytes in bpftool's hex layout, or under -j a JSON array of {type, cpu, index, timestamp, data}.
import { PerfBufReader, type PerfEvent } from '../ringbuf/perfbuf.js';
import { MapType } from '../syscall/constants.js';
import { matchPrefix } from './argv.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { openMapWithBtf } from './map.js';
import { parseSelector } from './objects.js';

const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
/** bpftool's MMAP_PAGE_CNT. */
const PAGES = 16;

/** bpftool's fprint_hex: bytes separated by spaces, two spaces after each 8, a new line after each 16. */
export function hexLayout(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    if (i) s += i % 16 === 0 ? '\n' : i % 8 === 0 ? '  ' : ' ';
    s += b[i]!.toString(16).padStart(2, '0');
  }
  return s;
}

/** One record as bpftool's print_bpf_output prints it (plain). */
export function eventText(e: PerfEvent, index: number): string {
  if (e.type === PERF_RECORD_SAMPLE) {
    const t = e.time ?? 0n;
    return `== @${t / 1_000_000_000n}.${String(t % 1_000_000_000n).padStart(9, '0')} CPU: ${e.cpu} index: ${index} =====\n${hexLayout(e.data ?? new Uint8Array())}\n`;
  }
  if (e.type === PERF_RECORD_LOST) return `lost ${e.lost ?? 0n} events\n`;
  return `unknown event type=${e.type} size=${e.size}\n`;
}

/** One record as bpftool's -j prints it. */
export function eventJson(e: PerfEvent, index: number): Record<string, unknown> {
  const o: Record<string, unknown> = { type: e.type, cpu: e.cpu, index };
  if (e.type === PERF_RECORD_SAMPLE) {
    o.timestamp = e.time ?? 0n;
    o.data = Array.from(e.data ?? []);
  } else if (e.type === PERF_RECORD_LOST) o.lost = { id: e.lostId ?? 0n, count: e.lost ?? 0n };
  return o;
}

function parseWords(words: string[]): { cpu: number; index: number } | undefined {
  let cpu: number | undefined;
  let index: number | undefined;
  const num = (w: string | undefined, what: string) => {
    // strtoul(..., 0): decimal, 0x hex or 0 octal, nothing after.
    const v = w === undefined ? NaN : /^0x[0-9a-f]+$/i.test(w) ? parseInt(w, 16) : /^0[0-7]*$/.test(w) ? parseInt(w, 8) : /^\d+$/.test(w) ? Number(w) : NaN;
    if (!Number.isSafeInteger(v)) throw new UsageError(`can't parse ${w} as ${what}`);
    return v;
  };
  for (let i = 0; i < words.length; i += 2) {
    const w = words[i]!;
    if (i + 1 >= words.length) throw new UsageError(`what is '${w}'? (map event_pipe MAP [cpu N index M])`);
    const k = matchPrefix(w, ['cpu', 'index']);
    if (k === 'cpu') cpu = num(words[i + 1], 'CPU ID');
    else if (k === 'index') index = num(words[i + 1], 'index');
    else throw new UsageError(`what is '${w}'? (map event_pipe MAP [cpu N index M])`);
  }
  if (cpu === undefined && index === undefined) return undefined;
  if (cpu === undefined || index === undefined) throw new UsageError('cpu and index must be specified together');
  return { cpu, index };
}

export async function mapEventPipe(args: string[]): Promise<void> {
  const sel = parseSelector(args, 'map');
  const m = openMapWithBtf(sel);
  let reader: PerfBufReader | undefined;
  try {
    if (m.info.type !== MapType.PERF_EVENT_ARRAY) throw new CliExit('map is not a perf event array');
    const one = parseWords(sel.rest);
    try {
      reader = new PerfBufReader(m.map, { pages: PAGES, sampleTime: true, cpus: one ? [{ cpu: one.cpu, key: one.index }] : undefined });
    } catch (e) {
      throw new CliExit(`failed to create perf buffer: ${(e as Error).message}`);
    }
    const json = globals.json;
    let first = true;
    if (json) process.stdout.write('[');
    await new Promise<void>((resolve) => {
      const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
      const stop = () => {
        process.stderr.write('Stopping...\n');
        for (const s of signals) process.off(s, stop);
        resolve();
      };
      for (const s of signals) process.on(s, stop);
      reader!.onEvent((e) => {
        // bpftool: the index is the CPU when every CPU is read, else the index given.
        const index = one ? one.index : e.cpu;
        if (!json) process.stdout.write(eventText(e, index));
        else {
          process.stdout.write(`${first ? '' : ','}${jsonText(eventJson(e, index), globals.pretty, 1)}`);
          first = false;
        }
      });
    });
    if (json) process.stdout.write(`${!first && globals.pretty ? '\n' : ''}]\n`);
  } finally {
    reader?.close();
    m.fd.close();
  }
}
