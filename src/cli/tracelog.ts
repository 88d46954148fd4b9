// `bee-ts prog tracelog`: like bpftool prog tracelog, stream the kernel's trace_pipe (where
// bpf_trace_printk writes) to stdout until interrupted; with -j, a JSON array of its lines.
// trace_pipe is read non-blocking and polled: a read blocked in the kernel would hold a thread
// that the process cannot leave without.
import fs from 'node:fs';
import { tracefsRoot } from '../syscall/features.js';
import { CliExit } from './errors.js';
import { globals } from './format.js';

const POLL_MS = 100;
const MAX_LINE = 1 << 20;

export async function progTracelog(): Promise<void> {
  const root = tracefsRoot();
  if (!root) throw new CliExit('tracefs not mounted (mount -t tracefs nodev /sys/kernel/tracing)');
  const path = `${root}/trace_pipe`;
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliExit(`cannot open ${path}: ${code === 'EBUSY' ? 'another process is reading it (only one reader at a time)' : (e as Error).message}`);
  }
  const json = globals.json;
  let first = true;
  let pending = '';
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (json) process.stdout.write('[');
  const buf = Buffer.alloc(64 * 1024);
  try {
    while (!stop) {
      let n = 0;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw new CliExit(`cannot read ${path}: ${(e as Error).message}`);
      }
      if (n <= 0) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      const chunk = buf.toString('utf8', 0, n);
      if (!json) {
        process.stdout.write(chunk);
        continue;
      }
      pending += chunk;
      if (pending.length > MAX_LINE) pending = pending.slice(-MAX_LINE);
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        // bpftool's json_writer: array elements follow each other on one line, even with -p.
        process.stdout.write(`${first ? '' : ','}${JSON.stringify(pending.slice(0, nl + 1))}`);
        first = false;
        pending = pending.slice(nl + 1);
      }
    }
  } finally {
    fs.closeSync(fd);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (json) process.stdout.write(`${!first && globals.pretty ? '\n' : ''}]\n`);
}
