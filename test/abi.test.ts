// The hand-written kernel ABI, checked against the running kernel's BTF (/sys/kernel/btf/vmlinux,
// read with our own BTF reader). No root needed: every builder and decoder runs against a
// recording backend behind the syscall seam, and the bytes it sees are read (or written) at the
// offsets the kernel's BTF gives for each field name:
//  - every bpf_attr builder: each field lands where the kernel's struct for that command has it,
//    and the attr is sized to the end of the last field the command uses;
//  - bpf_{map,prog,link,btf}_info decoders: a field the "kernel" writes at its BTF offset is
//    decoded into the right property; the buffers are no larger than the kernel's struct;
//  - perf_event_attr as perfEventOpen writes it;
//  - the enums in src/syscall/constants.ts and bpf.ts's Cmd equal the kernel's.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import { BtfKind, type EnumType, isComposite } from '../src/btf/types.js';
import { attachProgram } from '../src/link/attach.js';
import type { AttachableProgram } from '../src/link/kinds.js';
import { uretprobeMultiHook } from '../src/link/uprobe-multi.js';
import { attachPerfEvent } from '../src/link/perf.js';
import { type SyscallBackend, useBackend } from '../src/syscall/backend.js';
import {
  Cmd,
  ElemAttr,
  enableStats,
  fdById,
  linkCreate,
  linkDetach,
  listIds,
  mapBatch,
  mapCreate,
  mapFreeze,
  objGet,
  objInfo,
  objPin,
  progAttach,
  progBindMap,
  progDetach,
  progLoadRaw,
  progQuery,
  progTestRun,
  rawTracepointOpen,
} from '../src/syscall/bpf.js';
import { AttachType, LinkType, MapType, ProgType } from '../src/syscall/constants.js';
import { Fd } from '../src/syscall/fd.js';
import { BTF_INFO_SIZE, btfInfo, LINK_INFO_SIZE, linkInfo, MAP_INFO_SIZE, mapInfo, PROG_INFO_SIZE, progInfo } from '../src/syscall/info.js';
import { perfEventOpen } from '../src/syscall/perf.js';
import { need } from './helpers.js';
import { Recorder } from './recorder.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const skip = need(fs.existsSync(VMLINUX), `${VMLINUX} (kernel BTF) is needed to check the ABI layouts`);

interface Field {
  off: number; // bytes
  size: number; // bytes (0 for a bitfield)
  bitOff: number; // bits, from the start of the flattened struct
  bits: number; // bitfield width, 0 when not a bitfield
}

/** A struct's fields by dotted path (anonymous members flattened, named ones prefixed). */
function flatten(btf: Btf, id: number, base = 0, prefix = '', out = new Map<string, Field>()): Map<string, Field> {
  const t = btf.resolve(id);
  if (!isComposite(t)) throw new Error(`type ${id} is not a struct/union`);
  for (const m of t.members) {
    const bitOff = base + m.bitOffset;
    const mt = btf.resolve(m.type);
    if (m.name === '' && isComposite(mt)) {
      flatten(btf, m.type, bitOff, prefix, out);
      continue;
    }
    const path = prefix + m.name;
    out.set(path, { off: bitOff / 8, size: m.bitfieldSize ? 0 : btf.sizeof(m.type), bitOff, bits: m.bitfieldSize });
    if (isComposite(mt)) flatten(btf, m.type, bitOff, `${path}.`, out);
  }
  return out;
}

let btf: Btf;
const structs = new Map<string, { size: number; fields: Map<string, Field> }>();

function struct(name: string): { size: number; fields: Map<string, Field> } {
  let s = structs.get(name);
  if (!s) {
    const t = btf.find(name, BtfKind.Struct) ?? btf.find(name, BtfKind.Union);
    if (!t) throw new Error(`kernel BTF has no ${name}`);
    s = { size: btf.sizeof(t.id), fields: flatten(btf, t.id) };
    structs.set(name, s);
  }
  return s;
}

/**
 * The member struct of union bpf_attr a command uses: a named one (`batch`, `test`, ...) or the
 * anonymous struct that has `key` among its fields.
 */
function attrStruct(key: string): Map<string, Field> {
  const u = btf.find('bpf_attr', BtfKind.Union)!;
  for (const m of u.members) {
    if (m.name === key) return flatten(btf, m.type, 0, `${key}.`);
    if (m.name === '' && flatten(btf, m.type).has(key)) return flatten(btf, m.type);
  }
  throw new Error(`union bpf_attr has no command struct with '${key}'`);
}

const rec = new Recorder();
let restore: () => void;

function read(b: Uint8Array, f: Field): bigint | string {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.bits) {
    let v = 0n;
    for (let i = 0; i < f.bits; i++) {
      const bit = f.bitOff + i;
      if ((b[bit >> 3]! >> (bit & 7)) & 1) v |= 1n << BigInt(i);
    }
    return v;
  }
  if (f.size === 1) return BigInt(dv.getUint8(f.off));
  if (f.size === 2) return BigInt(dv.getUint16(f.off, true));
  if (f.size === 4) return BigInt(dv.getUint32(f.off, true));
  if (f.size === 8) return dv.getBigUint64(f.off, true);
  const s = Buffer.from(b.subarray(f.off, f.off + f.size));
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? s.length : z).toString('latin1');
}

function write(b: Uint8Array, f: Field, v: bigint | string): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (typeof v === 'string') {
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).write(v, f.off, f.size, 'latin1');
    return;
  }
  if (f.bits) {
    for (let i = 0; i < f.bits; i++) {
      const bit = f.bitOff + i;
      if ((v >> BigInt(i)) & 1n) b[bit >> 3]! |= 1 << (bit & 7);
    }
    return;
  }
  if (f.size === 1) dv.setUint8(f.off, Number(v));
  else if (f.size === 2) dv.setUint16(f.off, Number(v), true);
  else if (f.size === 4) dv.setUint32(f.off, Number(v), true);
  else if (f.size === 8) dv.setBigUint64(f.off, v, true);
  else throw new Error(`cannot write a ${f.size}-byte field`);
}

const field = (fields: Map<string, Field>, name: string): Field => {
  const f = fields.get(name);
  if (!f) throw new Error(`kernel has no field '${name}' (has ${[...fields.keys()].join(', ')})`);
  return f;
};
const end = (f: Field) => (f.bits ? Math.ceil((f.bitOff + f.bits) / 8) : f.off + f.size);
const ptr = (b: Uint8Array) => rec.addressOf(b);

/**
 * The attr of the last bpf() call has each expected field at the kernel's offset, and its size is
 * the end of `lastField` (the last field the command uses), possibly rounded up to 8.
 */
function expectAttr(cmd: number, key: string, expected: Record<string, bigint | number | string>, lastField: string): void {
  const fields = attrStruct(key);
  const call = rec.last();
  expect(call.cmd, `command for '${key}'`).toBe(cmd);
  for (const [name, v] of Object.entries(expected)) {
    const f = field(fields, name);
    expect(end(f), `${name} inside the attr`).toBeLessThanOrEqual(call.size);
    expect(read(call.attr, f), `bpf_attr field ${name}`).toBe(typeof v === 'string' ? v : BigInt(v));
  }
  const e = end(field(fields, lastField));
  expect([e, Math.ceil(e / 8) * 8], `attr size (last field ${lastField} ends at ${e})`).toContain(call.size);
  // Nothing else is set: every byte outside the expected fields is zero.
  const mask = Buffer.from(call.attr);
  for (const name of Object.keys(expected)) {
    const f = field(fields, name);
    if (f.bits) continue;
    mask.fill(0, f.off, f.off + f.size);
  }
  expect(mask.every((x) => x === 0), `only the expected fields of '${key}' are set`).toBe(true);
}

describe.skipIf(skip)('kernel ABI layouts agree with the running kernel BTF', () => {
  beforeAll(() => {
    btf = parseBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    restore = useBackend(rec as unknown as SyscallBackend);
  });
  afterAll(() => restore?.());

  it('BPF_MAP_CREATE', () => {
    mapCreate({ type: 21, keySize: 2, valueSize: 3, maxEntries: 4, flags: 5, innerMapFd: 6, numaNode: 7, name: 'abi_map', ifindex: 8, btfFd: 9, btfKeyTypeId: 10, btfValueTypeId: 11, btfVmlinuxValueTypeId: 12, mapExtra: 13n }).close();
    expectAttr(
      Cmd.MAP_CREATE,
      'map_type',
      { map_type: 21, key_size: 2, value_size: 3, max_entries: 4, map_flags: 5, inner_map_fd: 6, numa_node: 7, map_name: 'abi_map', map_ifindex: 8, btf_fd: 9, btf_key_type_id: 10, btf_value_type_id: 11, btf_vmlinux_value_type_id: 12, map_extra: 13 },
      'map_extra',
    );
  });

  it('element commands, MAP_FREEZE and the batch commands', () => {
    // Buffers over ElemAttr's copy limit (64 bytes): the attr points at them (small ones below).
    const key = new Uint8Array(72);
    const value = new Uint8Array(80);
    new ElemAttr(7).call(Cmd.MAP_UPDATE_ELEM, key, value, 9);
    expectAttr(Cmd.MAP_UPDATE_ELEM, 'next_key', { map_fd: 7, key: ptr(key), value: ptr(value), flags: 9 }, 'flags');
    new ElemAttr(7).call(Cmd.MAP_GET_NEXT_KEY, key, value);
    expectAttr(Cmd.MAP_GET_NEXT_KEY, 'next_key', { map_fd: 7, key: ptr(key), next_key: ptr(value) }, 'flags');
    mapFreeze(7);
    expectAttr(Cmd.MAP_FREEZE, 'next_key', { map_fd: 7 }, 'map_fd');
    const inB = new Uint8Array(8);
    const outB = new Uint8Array(8);
    const keys = new Uint8Array(16);
    const values = new Uint8Array(16);
    rec.onBpf = (_cmd, attr) => {
      write(attr, field(attrStruct('batch'), 'batch.count'), 3n);
      return 0;
    };
    const r = mapBatch(Cmd.MAP_LOOKUP_BATCH, 7, inB, outB, keys, values, 4, 6);
    rec.onBpf = undefined;
    expect(r.count).toBe(3);
    expectAttr(Cmd.MAP_LOOKUP_BATCH, 'batch', { 'batch.in_batch': ptr(inB), 'batch.out_batch': ptr(outB), 'batch.keys': ptr(keys), 'batch.values': ptr(values), 'batch.count': 3, 'batch.map_fd': 7, 'batch.elem_flags': 6 }, 'batch.flags');
  });

  it('ElemAttr copies a small key (and an update value) from a new buffer, points at one passed twice in a row', () => {
    const e = new ElemAttr(7);
    const keyField = field(attrStruct('next_key'), 'key');
    const valueField = field(attrStruct('next_key'), 'value');
    const at = (f: Field) => rec.last().attr.readBigUInt64LE(f.off);
    const k1 = Uint8Array.of(1, 2, 3, 4);
    const v1 = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2);
    e.call(Cmd.MAP_UPDATE_ELEM, k1, v1);
    // Copies: other buffers holding the same bytes.
    expect(at(keyField)).not.toBe(ptr(k1));
    expect([...rec.mem(at(keyField))]).toEqual([1, 2, 3, 4]);
    expect(at(valueField)).not.toBe(ptr(v1));
    expect([...rec.mem(at(valueField))]).toEqual([9, 8, 7, 6, 5, 4, 3, 2]);
    const copy = at(keyField);
    const k2 = Uint8Array.of(5, 6, 7, 8);
    e.call(Cmd.MAP_DELETE_ELEM, k2, null);
    expect(at(keyField)).toBe(copy);
    expect([...rec.mem(copy)]).toEqual([5, 6, 7, 8]);
    expect(at(valueField)).toBe(0n);
    // The same buffer again: the attr points at it, and sees its bytes as they are at each call.
    e.call(Cmd.MAP_DELETE_ELEM, k2, null);
    expect(at(keyField)).toBe(ptr(k2));
    // A lookup's value is written by the kernel: never a copy.
    const out = new Uint8Array(8);
    e.call(Cmd.MAP_LOOKUP_ELEM, k2, out);
    expect(at(valueField)).toBe(ptr(out));
  });

  it('BPF_PROG_LOAD, and log_true_size read back', () => {
    const insns = new Uint8Array(16);
    const log = new Uint8Array(64);
    const funcInfo = new Uint8Array(8);
    const lineInfo = new Uint8Array(16);
    const fdArray = new Uint8Array(4);
    rec.onBpf = (_cmd, attr) => {
      write(attr, field(attrStruct('prog_type'), 'log_true_size'), 4242n);
      return 100;
    };
    const r = progLoadRaw({ type: 2, insns, license: 'GPL', logLevel: 3, logBuf: log, kernVersion: 4, flags: 5, name: 'abi_prog', ifindex: 6, expectedAttachType: 7, btfFd: 8, funcInfoRecSize: 9, funcInfo, funcInfoCnt: 10, lineInfoRecSize: 11, lineInfo, lineInfoCnt: 12, attachBtfId: 13, attachBtfObjFd: 14, fdArray });
    rec.onBpf = undefined;
    expect(r.logTrueSize).toBe(4242);
    const license = rec.last().attr.readBigUInt64LE(field(attrStruct('prog_type'), 'license').off);
    expect(Buffer.from(rec.mem(license)).toString()).toBe('GPL\0');
    expectAttr(
      Cmd.PROG_LOAD,
      'prog_type',
      { prog_type: 2, insn_cnt: 2, insns: ptr(insns), license, log_level: 3, log_size: 64, log_buf: ptr(log), kern_version: 4, prog_flags: 5, prog_name: 'abi_prog', prog_ifindex: 6, expected_attach_type: 7, prog_btf_fd: 8, func_info_rec_size: 9, func_info: ptr(funcInfo), func_info_cnt: 10, line_info_rec_size: 11, line_info: ptr(lineInfo), line_info_cnt: 12, attach_btf_id: 13, attach_btf_obj_fd: 14, fd_array: ptr(fdArray), log_true_size: 4242 },
      'log_true_size',
    );
  });

  it('OBJ_PIN, OBJ_GET, PROG_ATTACH, PROG_DETACH', () => {
    objPin(5, '/sys/fs/bpf/abi');
    const path = rec.last().attr.readBigUInt64LE(field(attrStruct('pathname'), 'pathname').off);
    expect(Buffer.from(rec.mem(path)).toString()).toBe('/sys/fs/bpf/abi\0');
    expectAttr(Cmd.OBJ_PIN, 'pathname', { pathname: path, bpf_fd: 5 }, 'file_flags');
    objGet('/sys/fs/bpf/abi', 8).close();
    const path2 = rec.last().attr.readBigUInt64LE(0);
    expectAttr(Cmd.OBJ_GET, 'pathname', { pathname: path2, file_flags: 8 }, 'file_flags');
    progAttach(1, 2, 3, 4);
    expectAttr(Cmd.PROG_ATTACH, 'attach_bpf_fd', { target_fd: 1, attach_bpf_fd: 2, attach_type: 3, attach_flags: 4 }, 'replace_bpf_fd');
    progDetach(1, 2, 3);
    expectAttr(Cmd.PROG_DETACH, 'attach_bpf_fd', { target_fd: 1, attach_bpf_fd: 2, attach_type: 3 }, 'replace_bpf_fd');
  });

  it('BPF_PROG_TEST_RUN, with its outputs', () => {
    const f = attrStruct('test');
    const dataIn = new Uint8Array(10);
    const dataOut = new Uint8Array(20);
    const ctxIn = new Uint8Array(30);
    const ctxOut = new Uint8Array(40);
    rec.onBpf = (_cmd, attr) => {
      write(attr, field(f, 'test.retval'), 0xfffffffen); // -2
      write(attr, field(f, 'test.duration'), 77n);
      write(attr, field(f, 'test.data_size_out'), 18n);
      write(attr, field(f, 'test.ctx_size_out'), 38n);
      return 0;
    };
    const r = progTestRun(5, { dataIn, dataOut, ctxIn, ctxOut, repeat: 6, flags: 7, cpu: 8 });
    rec.onBpf = undefined;
    expect(r).toEqual({ retval: -2, duration: 77, dataSizeOut: 18, ctxSizeOut: 38 });
    expectAttr(
      Cmd.PROG_TEST_RUN,
      'test',
      { 'test.prog_fd': 5, 'test.retval': 0xfffffffe, 'test.data_size_in': 10, 'test.data_size_out': 18, 'test.data_in': ptr(dataIn), 'test.data_out': ptr(dataOut), 'test.repeat': 6, 'test.duration': 77, 'test.ctx_size_in': 30, 'test.ctx_size_out': 38, 'test.ctx_in': ptr(ctxIn), 'test.ctx_out': ptr(ctxOut), 'test.flags': 7, 'test.cpu': 8 },
      'test.batch_size',
    );
  });

  it('GET_NEXT_ID, GET_FD_BY_ID, OBJ_GET_INFO_BY_FD', () => {
    const f = attrStruct('next_id');
    let n = 0;
    rec.onBpf = (_cmd, attr) => {
      if (n++ === 2) return -2; // ENOENT: the end
      write(attr, field(f, 'next_id'), BigInt(read(attr, field(f, 'start_id')) as bigint) + 10n);
      return 0;
    };
    expect(listIds('map')).toEqual([10, 20]);
    rec.onBpf = undefined;
    expectAttr(Cmd.MAP_GET_NEXT_ID, 'next_id', { start_id: 20, next_id: 20 }, 'open_flags');
    fdById('prog', 33).close();
    expectAttr(Cmd.PROG_GET_FD_BY_ID, 'next_id', { prog_id: 33 }, 'open_flags');
    const info = new Uint8Array(24);
    objInfo(9, info);
    expectAttr(Cmd.OBJ_GET_INFO_BY_FD, 'info', { 'info.bpf_fd': 9, 'info.info_len': 24, 'info.info': ptr(info) }, 'info.info');
  });

  it('RAW_TRACEPOINT_OPEN, LINK_CREATE (and the perf-event cookie), PROG_QUERY, LINK_DETACH, ENABLE_STATS, PROG_BIND_MAP', () => {
    rawTracepointOpen('sys_enter', 5).close();
    const name = rec.last().attr.readBigUInt64LE(0);
    expect(Buffer.from(rec.mem(name)).toString()).toBe('sys_enter\0');
    expectAttr(Cmd.RAW_TRACEPOINT_OPEN, 'raw_tracepoint', { 'raw_tracepoint.name': name, 'raw_tracepoint.prog_fd': 5 }, 'raw_tracepoint.prog_fd');
    linkCreate({ progFd: 5, targetFd: 6, attachType: 7, flags: 8 }).close();
    expectAttr(Cmd.LINK_CREATE, 'link_create', { 'link_create.prog_fd': 5, 'link_create.target_fd': 6, 'link_create.attach_type': 7, 'link_create.flags': 8 }, 'link_create.uprobe_multi.pid');
    const perf = new Fd(50, 'perf');
    attachPerfEvent(perf, 5, 'abi', 0x1234n)?.close();
    const created = rec.calls.filter((c) => c.cmd === Cmd.LINK_CREATE).at(-1)!;
    rec.calls.push(created); // expectAttr looks at the last call; ioctl ENABLE came after it
    expectAttr(Cmd.LINK_CREATE, 'link_create', { 'link_create.prog_fd': 5, 'link_create.target_fd': 50, 'link_create.attach_type': AttachType.PERF_EVENT, 'link_create.perf_event.bpf_cookie': 0x1234 }, 'link_create.uprobe_multi.pid');
    perf.close();
    const q = attrStruct('query');
    rec.onBpf = (_cmd, attr) => {
      write(attr, field(q, 'query.prog_cnt'), 1n);
      write(attr, field(q, 'query.attach_flags'), 2n);
      const ids = rec.mem(read(attr, field(q, 'query.prog_ids')) as bigint);
      new DataView(ids.buffer, ids.byteOffset).setUint32(0, 99, true);
      return 0;
    };
    const r = progQuery(4, 5, 'abi', 8, 6, true);
    rec.onBpf = undefined;
    expect(r.progIds).toEqual([99]);
    expect(r.attachFlags).toBe(2);
    const a = rec.last().attr;
    expectAttr(
      Cmd.PROG_QUERY,
      'query',
      { 'query.target_fd': 4, 'query.attach_type': 5, 'query.query_flags': 6, 'query.attach_flags': 2, 'query.prog_ids': a.readBigUInt64LE(field(q, 'query.prog_ids').off), 'query.prog_cnt': 1, 'query.link_ids': a.readBigUInt64LE(field(q, 'query.link_ids').off) },
      'query.revision',
    );
    expect(a.readBigUInt64LE(field(q, 'query.link_ids').off)).not.toBe(0n);
    linkDetach(5);
    expectAttr(Cmd.LINK_DETACH, 'link_detach', { 'link_detach.link_fd': 5 }, 'link_detach.link_fd');
    enableStats(1).close();
    expectAttr(Cmd.ENABLE_STATS, 'enable_stats', { 'enable_stats.type': 1 }, 'enable_stats.type');
    progBindMap(5, 6);
    expectAttr(Cmd.PROG_BIND_MAP, 'prog_bind_map', { 'prog_bind_map.prog_fd': 5, 'prog_bind_map.map_fd': 6 }, 'prog_bind_map.flags');
  });

  it('LINK_CREATE for uprobe.multi, written by the attach code', () => {
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib/libc.so.6'].find((p) => fs.existsSync(p));
    expect(libc, 'a libc to resolve symbols in').toBeDefined();
    const prog: AttachableProgram = {
      name: 'abi_up',
      section: `uprobe.multi/${libc}:getpid`,
      fd: new Fd(60, 'prog'),
      type: ProgType.KPROBE,
      expectedAttachType: AttachType.TRACE_UPROBE_MULTI,
      hook: uretprobeMultiHook,
      spec: { attachTarget: `${libc}:getpid`, progType: ProgType.KPROBE },
      object: {
        map: () => {
          throw new Error('no maps');
        },
      },
    };
    attachProgram(prog, { pid: 1234, cookies: { getpid: 7n } }).close();
    const f = attrStruct('link_create');
    const c = rec.calls.filter((x) => x.cmd === Cmd.LINK_CREATE).at(-1)!;
    const path = c.attr.readBigUInt64LE(field(f, 'link_create.uprobe_multi.path').off);
    expect(Buffer.from(rec.mem(path)).toString()).toBe(`${fs.realpathSync(libc!)}\0`);
    const want: Record<string, bigint> = {
      'link_create.prog_fd': 60n,
      'link_create.attach_type': BigInt(AttachType.TRACE_UPROBE_MULTI),
      'link_create.uprobe_multi.cnt': 1n,
      'link_create.uprobe_multi.flags': 1n, // BPF_F_UPROBE_MULTI_RETURN
      'link_create.uprobe_multi.pid': 1234n,
    };
    for (const [k, v] of Object.entries(want)) expect(read(c.attr, field(f, k)), k).toBe(v);
    const offsets = rec.mem(read(c.attr, field(f, 'link_create.uprobe_multi.offsets')) as bigint);
    expect(offsets.byteLength).toBe(8);
    const cookies = rec.mem(read(c.attr, field(f, 'link_create.uprobe_multi.cookies')) as bigint);
    expect(new DataView(cookies.buffer, cookies.byteOffset).getBigUint64(0, true)).toBe(7n);
    prog.fd.close();
  });

  it('bpf_map_info', () => {
    const s = struct('bpf_map_info');
    expect(MAP_INFO_SIZE).toBeLessThanOrEqual(s.size);
    const vals: [keyof ReturnType<typeof mapInfo>, string, bigint | string][] = [
      ['type', 'type', 21n],
      ['id', 'id', 2n],
      ['keySize', 'key_size', 3n],
      ['valueSize', 'value_size', 4n],
      ['maxEntries', 'max_entries', 5n],
      ['flags', 'map_flags', 6n],
      ['name', 'name', 'abi_map_name'],
      ['ifindex', 'ifindex', 7n],
      ['btfVmlinuxValueTypeId', 'btf_vmlinux_value_type_id', 8n],
      ['btfId', 'btf_id', 9n],
      ['btfKeyTypeId', 'btf_key_type_id', 10n],
      ['btfValueTypeId', 'btf_value_type_id', 11n],
      ['mapExtra', 'map_extra', 12n],
    ];
    for (const [, k] of vals) expect(end(field(s.fields, k)), k).toBeLessThanOrEqual(MAP_INFO_SIZE);
    rec.onBpf = infoFiller('bpf_map_info', Object.fromEntries(vals.map(([, k, v]) => [k, v])));
    const got = mapInfo(3);
    rec.onBpf = undefined;
    for (const [p, , v] of vals) expect(got[p], p).toBe(typeof v === 'bigint' && p !== 'mapExtra' ? Number(v) : v);
  });

  it('bpf_prog_info (both calls: map ids and the first func_info record)', () => {
    const s = struct('bpf_prog_info');
    expect(PROG_INFO_SIZE).toBeLessThanOrEqual(s.size);
    const nums: [keyof ReturnType<typeof progInfo>, string, bigint][] = [
      ['type', 'type', 2n],
      ['id', 'id', 3n],
      ['jitedProgLen', 'jited_prog_len', 4n],
      ['xlatedProgLen', 'xlated_prog_len', 5n],
      ['loadTime', 'load_time', 6n],
      ['createdByUid', 'created_by_uid', 7n],
      ['ifindex', 'ifindex', 8n],
      ['btfId', 'btf_id', 9n],
      ['nrFuncInfo', 'nr_func_info', 1n],
      ['nrLineInfo', 'nr_line_info', 11n],
      ['funcInfoRecSize', 'func_info_rec_size', 8n],
      ['lineInfoRecSize', 'line_info_rec_size', 16n],
      ['nrJitedKsyms', 'nr_jited_ksyms', 13n],
      ['runTimeNs', 'run_time_ns', 14n],
      ['runCnt', 'run_cnt', 15n],
      ['recursionMisses', 'recursion_misses', 16n],
      ['verifiedInsns', 'verified_insns', 17n],
      ['attachBtfObjId', 'attach_btf_obj_id', 18n],
      ['attachBtfId', 'attach_btf_id', 19n],
    ];
    const fill: Record<string, bigint | string> = Object.fromEntries(nums.map(([, k, v]) => [k, v]));
    fill.name = 'abi_prog_name';
    fill.gpl_compatible = 1n;
    fill.nr_map_ids = 2n;
    for (const k of [...Object.keys(fill), 'map_ids', 'func_info', 'tag']) expect(end(field(s.fields, k)), k).toBeLessThanOrEqual(PROG_INFO_SIZE);
    const tag = field(s.fields, 'tag');
    rec.onBpf = infoFiller('bpf_prog_info', fill, (info) => {
      info.set([1, 2, 3, 4, 5, 6, 7, 0xab], tag.off);
      const ids = read(info, field(s.fields, 'map_ids')) as bigint;
      if (ids) new DataView(rec.mem(ids).buffer, rec.mem(ids).byteOffset).setUint32(4, 55, true);
      const fi = read(info, field(s.fields, 'func_info')) as bigint;
      if (fi) new DataView(rec.mem(fi).buffer, rec.mem(fi).byteOffset).setUint32(4, 66, true);
    });
    const got = progInfo(3, { funcInfo: true });
    rec.onBpf = undefined;
    for (const [p, , v] of nums) expect(got[p], p).toBe(typeof got[p] === 'bigint' ? v : Number(v));
    expect(got.name).toBe('abi_prog_name');
    expect(got.gplCompatible).toBe(true);
    expect(got.tag).toBe('01020304050607ab');
    expect(got.mapIds).toEqual([0, 55]);
    expect(got.firstFuncTypeId).toBe(66);
  });

  it('bpf_btf_info', () => {
    const s = struct('bpf_btf_info');
    expect(BTF_INFO_SIZE).toBeLessThanOrEqual(s.size);
    for (const k of ['btf', 'btf_size', 'id', 'name', 'name_len', 'kernel_btf']) expect(end(field(s.fields, k)), k).toBeLessThanOrEqual(BTF_INFO_SIZE);
    rec.onBpf = infoFiller('bpf_btf_info', { btf_size: 4n, id: 5n, kernel_btf: 1n }, (info) => {
      const name = read(info, field(s.fields, 'name')) as bigint;
      expect(read(info, field(s.fields, 'name_len'))).toBe(BigInt(rec.mem(name).length));
      Buffer.from(rec.mem(name).buffer, rec.mem(name).byteOffset).write('vmlinux\0');
    });
    const got = btfInfo(3);
    rec.onBpf = undefined;
    expect(got).toMatchObject({ id: 5, size: 4, name: 'vmlinux', kernelBtf: true });
  });

  it('bpf_link_info: the common part and every union member linkInfo decodes', () => {
    const s = struct('bpf_link_info');
    expect(LINK_INFO_SIZE).toBeLessThanOrEqual(s.size);
    const str = (ptrField: string, lenField: string, text: string) => (info: Uint8Array) => {
      const p = read(info, field(s.fields, ptrField)) as bigint;
      if (!p) return;
      expect(Number(read(info, field(s.fields, lenField)))).toBe(rec.mem(p).length);
      Buffer.from(rec.mem(p).buffer, rec.mem(p).byteOffset).write(`${text}\0`);
    };
    const cases: { type: number; fill: Record<string, bigint>; extra?: (i: Uint8Array) => void; details: Record<string, unknown> }[] = [
      { type: LinkType.RAW_TRACEPOINT, fill: {}, extra: str('raw_tracepoint.tp_name', 'raw_tracepoint.tp_name_len', 'sys_enter'), details: { tp_name: 'sys_enter' } },
      { type: LinkType.TRACING, fill: { 'tracing.attach_type': 24n, 'tracing.target_obj_id': 2n, 'tracing.target_btf_id': 3n }, details: { attach_type: 24, target_obj_id: 2, target_btf_id: 3 } },
      { type: LinkType.CGROUP, fill: { 'cgroup.cgroup_id': 77n, 'cgroup.attach_type': 1n }, details: { cgroup_id: 77, attach_type: 1 } },
      { type: LinkType.NETNS, fill: { 'netns.netns_ino': 88n, 'netns.attach_type': 17n }, details: { netns_ino: 88, attach_type: 17 } },
      { type: LinkType.XDP, fill: { 'xdp.ifindex': 4n }, details: { ifindex: 4 } },
      { type: LinkType.TCX, fill: { 'tcx.ifindex': 5n, 'tcx.attach_type': 46n }, details: { ifindex: 5, attach_type: 46 } },
      { type: LinkType.NETKIT, fill: { 'netkit.ifindex': 6n, 'netkit.attach_type': 50n }, details: { ifindex: 6, attach_type: 50 } },
      {
        type: LinkType.PERF_EVENT,
        fill: { 'perf_event.type': 1n, 'perf_event.uprobe.offset': 0x40n },
        extra: str('perf_event.uprobe.file_name', 'perf_event.uprobe.name_len', '/bin/true'),
        details: { event_type: 'uprobe', file: '/bin/true', offset: 0x40 },
      },
      {
        type: LinkType.PERF_EVENT,
        fill: { 'perf_event.type': 3n, 'perf_event.kprobe.offset': 8n, 'perf_event.kprobe.addr': 0x1000n, 'perf_event.kprobe.missed': 9n },
        extra: str('perf_event.kprobe.func_name', 'perf_event.kprobe.name_len', 'do_sys_open'),
        details: { event_type: 'kprobe', func: 'do_sys_open', offset: 8, addr: 0x1000, missed: 9 },
      },
      { type: LinkType.PERF_EVENT, fill: { 'perf_event.type': 5n }, extra: str('perf_event.tracepoint.tp_name', 'perf_event.tracepoint.name_len', 'sched_switch'), details: { event_type: 'tracepoint', tracepoint: 'sched_switch' } },
      { type: LinkType.PERF_EVENT, fill: { 'perf_event.type': 6n, 'perf_event.event.config': 3n, 'perf_event.event.type': 1n }, details: { event_type: 'event', config: 3, type: 1 } },
    ];
    for (const c of cases) {
      for (const k of Object.keys(c.fill)) expect(end(field(s.fields, k)), k).toBeLessThanOrEqual(LINK_INFO_SIZE);
      rec.onBpf = infoFiller('bpf_link_info', { type: BigInt(c.type), id: 2n, prog_id: 3n, ...c.fill }, c.extra);
      const got = linkInfo(3);
      rec.onBpf = undefined;
      expect(got, `link type ${c.type}`).toMatchObject({ type: c.type, id: 2, progId: 3, details: c.details });
    }
  });

  it('perf_event_attr as perfEventOpen writes it', () => {
    const s = struct('perf_event_attr');
    const c1 = Buffer.from('do_sys_open\0');
    perfEventOpen({ type: 6, config: 7n, samplePeriod: 8n, freq: true, sampleType: 9n, wakeupEvents: 10, watermark: true, disabled: true, config1: c1, config2: 11n }, -1, 0, 'abi').close();
    const a = rec.perfAttrs.at(-1)!;
    expect(a.length).toBeLessThanOrEqual(s.size);
    const want: Record<string, bigint> = { type: 6n, size: BigInt(a.length), config: 7n, sample_period: 8n, sample_type: 9n, freq: 1n, watermark: 1n, disabled: 1n, wakeup_events: 10n, config1: rec.addressOf(c1), config2: 11n };
    for (const [k, v] of Object.entries(want)) {
      expect(end(field(s.fields, k)), k).toBeLessThanOrEqual(a.length);
      expect(read(a, field(s.fields, k)), `perf_event_attr.${k}`).toBe(v);
    }
    // Every other flag bit is clear.
    for (const [k, f] of s.fields) if (f.bits === 1 && !(k in want)) expect(read(a, f), k).toBe(0n);
  });

  it('enums: BPF commands, map, program, attach and link types', () => {
    const kernelEnum = (name: string, prefix: string) => {
      const t = btf.find(name, BtfKind.Enum) as EnumType | undefined;
      if (!t) throw new Error(`no enum ${name}`);
      return new Map(t.values.filter((v) => v.name.startsWith(prefix)).map((v) => [v.name.slice(prefix.length), Number(v.value)]));
    };
    const check = (ours: Record<string, number>, name: string, prefix: string, ignore: string[] = []) => {
      const k = kernelEnum(name, prefix);
      // A name the kernel does not have yet is allowed only as an append after its last value
      // (the uapi enums are append-only): newer ABI than the running kernel, not a wrong number.
      const max = Math.max(...k.values());
      const wrong = Object.entries(ours)
        .filter(([key, v]) => (k.has(key) ? k.get(key) !== v : v <= max))
        .map(([key, v]) => `${prefix}${key}: ours ${v}, kernel ${k.get(key)}`);
      expect(wrong, name).toEqual([]);
      const ourValues = new Set(Object.values(ours));
      const missing = [...k].filter(([key, v]) => !ourValues.has(v) && !key.startsWith('__') && !ignore.includes(key)).map(([key]) => prefix + key);
      expect(missing, `${name} values we do not name`).toEqual([]);
    };
    // The *_OLD/_DEPRECATED aliases and the last BPF commands we never issue are not ours to name.
    check(Cmd, 'bpf_cmd', 'BPF_', []);
    check(MapType, 'bpf_map_type', 'BPF_MAP_TYPE_', []);
    check(ProgType, 'bpf_prog_type', 'BPF_PROG_TYPE_');
    check(AttachType, 'bpf_attach_type', 'BPF_');
    check(LinkType, 'bpf_link_type', 'BPF_LINK_TYPE_');
  });
});

/** A fake OBJ_GET_INFO_BY_FD: writes the given fields into the caller's info buffer at the kernel's offsets. */
function infoFiller(structName: string, values: Record<string, bigint | string>, extra?: (info: Uint8Array) => void) {
  return (cmd: number, attr: Uint8Array): number => {
    expect(cmd).toBe(Cmd.OBJ_GET_INFO_BY_FD);
    const a = attrStruct('info');
    const info = rec.mem(read(attr, field(a, 'info.info')) as bigint);
    expect(Number(read(attr, field(a, 'info.info_len')))).toBe(info.length);
    const s = struct(structName);
    for (const [k, v] of Object.entries(values)) write(info, field(s.fields, k), v);
    extra?.(info);
    return 0;
  };
}
