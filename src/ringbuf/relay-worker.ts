// The drain thread of one ring buffer (started by relay.ts): its own isolate, so the main
// thread's garbage collection, formatting and stdout writes never hold the ring. It maps the
// ring itself and moves committed records into the queue (relay-copy.ts) every SLEEP_MS while
// records come, blocking in epoll_wait (the ring's fd and a stop eventfd) while none do, and
// writes the main thread's eventfd after each round that moved records. When the queue is full
// the records stay in the ring (the kernel drops what it cannot reserve, as without the thread);
// memory stays bounded by the queue's size. On stop it unmaps the ring and says so (CTL.done).
import { workerData } from 'node:worker_threads';
import '../syscall/native.js';
import { EPOLL_EVENT_SIZE, PROT_READ, PROT_WRITE, sys } from '../syscall/backend.js';
import { BpfError } from '../syscall/errno.js';
import { Mapping } from '../syscall/mapping.js';
import { CTL, queueBytes, queueViews, relayRecords, type RingSide } from './relay-copy.js';

/** Between two rounds while records come: at 100 k records/s about 200 records (34 KiB of a 1 MiB ring) per round. */
const SLEEP_MS = 2;
/** Longest epoll_wait while no records come. */
const WAIT_MS = 100;
const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;

export interface RelayWorkerData {
  mapFd: number;
  ringSize: number;
  /** The control words (CTL). */
  ctl: SharedArrayBuffer;
  /** Address of the queue's memory (Mapping.anonymousShared, queueBytes(queueSize) bytes), which the main thread keeps mapped until CTL.done. */
  queueAddr: bigint;
  queueSize: number;
  /** The main thread's eventfd (written after a round that moved records). */
  notifyFd: number;
  /** Written by close() to end an epoll_wait under way. */
  stopFd: number;
  /** Free bytes under which a round counts the ring as full. */
  fullMargin: number;
}

const d = workerData as RelayWorkerData;
const ctl = new Int32Array(d.ctl);
const b = sys();
const q = queueViews(b.view(d.queueAddr, queueBytes(d.queueSize)), d.queueSize);
let consMap: Mapping | undefined;
let prodMap: Mapping | undefined;
let epfd = -1;
try {
  const page = b.pageSize();
  consMap = Mapping.shared(page, PROT_READ | PROT_WRITE, d.mapFd, 0, 'ring buffer consumer page');
  prodMap = Mapping.shared(page + 2 * d.ringSize, PROT_READ, d.mapFd, page, 'ring buffer data');
  const ring: RingSide = {
    consPos: new BigUint64Array(consMap.buffer, 0, 1),
    prodPos: new BigUint64Array(prodMap.buffer, 0, 1),
    hdr: new Int32Array(prodMap.buffer, page, (2 * d.ringSize) / 4),
    bytes: new Uint8Array(prodMap.buffer, page, 2 * d.ringSize),
    size: d.ringSize,
  };
  epfd = b.epollCreate();
  if (epfd < 0) throw new BpfError('epoll_create1', -epfd);
  for (const fd of [d.mapFd, d.stopFd]) {
    const r = b.epollCtl(epfd, EPOLL_CTL_ADD, fd, EPOLLIN, BigInt(fd));
    if (r < 0) throw new BpfError('epoll_ctl', -r);
  }
  Atomics.store(ctl, CTL.ready, 1);
  Atomics.notify(ctl, CTL.ready);
  const events = new Uint8Array(EPOLL_EVENT_SIZE * 2);
  const one = new Uint8Array(new BigUint64Array([1n]).buffer);
  while (Atomics.load(ctl, CTL.stop) === 0) {
    const r = relayRecords(ring, q);
    if (d.ringSize - r.used < d.fullMargin) Atomics.add(ctl, CTL.full, 1);
    if (r.moved > 0) b.write(d.notifyFd, one, 8);
    // Records came (or wait in the ring for room in the queue): the next round in SLEEP_MS.
    if (r.used > 0) Atomics.wait(ctl, CTL.stop, 0, SLEEP_MS);
    else b.epollWait(epfd, events, 2, WAIT_MS);
  }
} catch (e) {
  Atomics.store(ctl, CTL.errno, e instanceof BpfError ? e.errno : 0);
  Atomics.store(ctl, CTL.failed, 1);
  Atomics.notify(ctl, CTL.ready);
} finally {
  if (epfd >= 0) b.close(epfd);
  prodMap?.close();
  consMap?.close();
  Atomics.store(ctl, CTL.done, 1);
  Atomics.notify(ctl, CTL.done);
}
