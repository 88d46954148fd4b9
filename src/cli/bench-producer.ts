// Producer process for `bee-ts bench ringbuf --stream`: runs the pinned producer program with
// BPF_PROG_TEST_RUN in a loop (one bpf_loop batch per call) until time is up, then prints
// {"produced":N,"dropped":N,"seconds":S}. A separate process, so it runs on the other CPU.
//   node bench-producer.js <prog pin> <mode 0|1|2> <seconds> [batch]
import '../syscall/native.js';
import { objGet, progTestRun } from '../syscall/bpf.js';

const [progPin, modeArg, secondsArg, batchArg] = process.argv.slice(2);
if (!progPin || modeArg === undefined || !secondsArg) {
  process.stderr.write('usage: bench-producer <prog pin> <mode 0|1|2> <seconds> [batch]\n');
  process.exit(2);
}
const prog = objGet(progPin, 0, 'bench producer');
const req = Buffer.alloc(40);
const batch = Number(batchArg ?? 16384);
const mode = Number(modeArg);
let produced = 0n;
let dropped = 0n;
let seq = 0n;
const t0 = performance.now();
const end = t0 + Number(secondsArg) * 1000;
while (performance.now() < end) {
  req.fill(0);
  req.writeUInt32LE(batch, 0);
  req.writeUInt32LE(mode, 4);
  req.writeBigUInt64LE(500n, 8); // sampled mode: force a wake-up every 500 records
  req.writeBigUInt64LE(seq, 16);
  progTestRun(prog.value, { ctxIn: req });
  seq = req.readBigUInt64LE(16);
  produced += req.readBigUInt64LE(24);
  dropped += req.readBigUInt64LE(32);
}
process.stdout.write(JSON.stringify({ produced: Number(produced), dropped: Number(dropped), seconds: (performance.now() - t0) / 1000 }) + '\n');
prog.close();
