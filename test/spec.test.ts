import { describe, expect, it } from 'vitest';
import { parseObject, type ObjectSpec } from '../src/loader/spec.js';
import { matchSection } from '../src/loader/sections.js';
import { AttachType, BPF_F_NO_PREALLOC, MapType, ProgType } from '../src/syscall/constants.js';
import { BtfKind } from '../src/btf/types.js';
import { readFixture } from './helpers.js';

const spec = (name: string): ObjectSpec => parseObject(readFixture(name), { file: name });
const map = (s: ObjectSpec, name: string) => {
  const m = s.maps.find((x) => x.name === name);
  if (!m) throw new Error(`no map ${name}`);
  return m;
};

describe('SEC() matching', () => {
  it.each([
    ['kprobe/tcp_v4_connect', ProgType.KPROBE, 'kprobe', 'tcp_v4_connect'],
    ['kretprobe/tcp_v4_connect', ProgType.KPROBE, 'kretprobe', 'tcp_v4_connect'],
    ['kprobe.multi/tcp_*', ProgType.KPROBE, 'kprobe.multi', 'tcp_*'],
    ['uprobe//usr/lib/libc.so.6:malloc', ProgType.KPROBE, 'uprobe', '/usr/lib/libc.so.6:malloc'],
    ['tracepoint/syscalls/sys_enter_openat', ProgType.TRACEPOINT, 'tracepoint', 'syscalls/sys_enter_openat'],
    ['tp/sched/sched_switch', ProgType.TRACEPOINT, 'tracepoint', 'sched/sched_switch'],
    ['raw_tp/sys_enter', ProgType.RAW_TRACEPOINT, 'raw_tracepoint', 'sys_enter'],
    ['raw_tp.w/sys_enter', ProgType.RAW_TRACEPOINT_WRITABLE, 'raw_tracepoint', 'sys_enter'],
    ['tp_btf/sched_switch', ProgType.TRACING, 'tracing', 'sched_switch'],
    ['fentry/do_unlinkat', ProgType.TRACING, 'tracing', 'do_unlinkat'],
    ['xdp', ProgType.XDP, 'xdp', ''],
    ['tc/ingress', ProgType.SCHED_CLS, 'tcx', ''],
    ['tc', ProgType.SCHED_CLS, 'none', ''],
    ['cgroup_skb/egress', ProgType.CGROUP_SKB, 'cgroup', ''],
    ['perf_event', ProgType.PERF_EVENT, 'perf_event', ''],
    ['syscall', ProgType.SYSCALL, 'none', ''],
    ['lsm/file_open', ProgType.LSM, 'lsm', 'file_open'],
  ])('%s', (sec, type, attach, target) => {
    const m = matchSection(sec)!;
    expect(m.def.progType).toBe(type);
    expect(m.def.hook.kind).toBe(attach);
    expect(m.target).toBe(target);
  });

  it('follows libbpf prefix rules', () => {
    expect(matchSection('kprobe')?.def.hook.kind).toBe('kprobe'); // `x+` matches exactly
    expect(matchSection('kprobex/foo')).toBeUndefined(); // but not a longer word
    expect(matchSection('xdp/foo')).toBeUndefined(); // exact-only entries
    expect(matchSection('tc/ingress')?.def.attachType).toBe(AttachType.TCX_INGRESS);
    expect(matchSection('.text')).toBeUndefined();
  });
});

describe('object spec', () => {
  it('finds programs with their section, type and instructions', () => {
    const s = spec('maps.bpfel.o');
    expect(s.license).toBe('Dual MIT/GPL');
    const p = s.programs.find((x) => x.name === 'count_opens')!;
    expect(p.section).toBe('tracepoint/syscalls/sys_enter_openat');
    expect(p.progType).toBe(ProgType.TRACEPOINT);
    expect(p.attachTarget).toBe('syscalls/sys_enter_openat');
    expect(p.insns.length % 8).toBe(0);
    expect(p.funcInfo[0]).toEqual({ insn: 0, typeId: expect.any(Number) });
    expect(p.lineInfo.length).toBeGreaterThan(3);
    const relTargets = p.relocations.filter((r) => r.kind === 'map').map((r) => r.target);
    expect(relTargets).toEqual(expect.arrayContaining(['counts', 'events', 'jumps']));
  });

  it('reads BTF-defined maps of several types', () => {
    const s = spec('maps.bpfel.o');
    expect(map(s, 'counts')).toMatchObject({ type: MapType.HASH, keySize: 20, valueSize: 8, maxEntries: 1024, flags: BPF_F_NO_PREALLOC });
    expect(s.btf!.typeById(map(s, 'counts').keyTypeId!).name).toBe('key_t');
    expect(map(s, 'pinned_array')).toMatchObject({ type: MapType.ARRAY, pinning: 1, valueSize: 32 });
    expect(map(s, 'sized_percpu')).toMatchObject({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 8 });
    expect(map(s, 'sized_percpu').keyTypeId).toBeUndefined();
    expect(map(s, 'lru')).toMatchObject({ type: MapType.LRU_HASH, keySize: 4, valueSize: 4 });
    // ring buffer: created with no key/value, value type kept for decoding
    const rb = map(s, 'events');
    expect(rb).toMatchObject({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: 65536 });
    expect(s.btf!.typeById(rb.valueTypeId!).name).toBe('event_t');
    expect(map(s, 'perf_events')).toMatchObject({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4 });
  });

  it('reads map-in-map and prog-array definitions with their initial slots', () => {
    const s = spec('maps.bpfel.o');
    const outer = map(s, 'outer');
    expect(outer.type).toBe(MapType.HASH_OF_MAPS);
    expect(outer.inner).toMatchObject({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
    expect(outer.initSlots).toEqual([{ index: 1, symbol: 'inner' }]);
    const jumps = map(s, 'jumps');
    expect(jumps.type).toBe(MapType.PROG_ARRAY);
    expect(jumps.initSlots).toEqual([{ index: 0, symbol: 'tail_target' }]);
  });

  it('reads legacy `maps` section definitions', () => {
    const s = spec('legacy_maps.bpfel.o');
    expect(map(s, 'legacy_hash')).toMatchObject({ source: 'legacy', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 256 });
    expect(map(s, 'legacy_array')).toMatchObject({ source: 'legacy', type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(s.programs[0]!.relocations.find((r) => r.kind === 'map')!.target).toBe('legacy_hash');
  });

  it("reads bee's .maps.<role> sections as maps, and gives no map a role (src/bee/roles.ts does)", () => {
    const s = spec('bee_suffix.bpfel.o');
    expect(map(s, 'events')).toMatchObject({ section: '.maps.print', source: 'btf', type: MapType.RINGBUF });
    expect(map(s, 'sockets_counter')).toMatchObject({ section: '.maps.counter', type: MapType.HASH });
    expect(map(s, 'open_gauge').section).toBe('.maps.gauge');
    expect(map(s, 'start').section).toBe('.maps');
    expect(s.maps.filter((m) => 'role' in m || 'roleSource' in m)).toEqual([]);
    expect(spec('bee_prefix.bpfel.o').maps.filter((m) => 'role' in m)).toEqual([]);
  });

  it("parses a map whose bee name prefix disagrees with its section suffix: that is bee's refusal, not the parser's", () => {
    const s = spec('bad_role.bpfel.o');
    expect(map(s, 'counter_conflict')).toMatchObject({ section: '.maps.print', type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 16 });
    expect(s.programs[0]!.relocations.find((r) => r.kind === 'map')!.target).toBe('counter_conflict');
  });

  it('reads global data sections and their variables', () => {
    const s = spec('globals.bpfel.o');
    const byName = Object.fromEntries(s.dataSections.map((d) => [d.section, d]));
    expect(Object.keys(byName).sort()).toEqual(['.bss', '.data', '.data.hist', '.rodata', '.rodata.labels']);
    expect(byName['.rodata']!.mapName).toBe('globals.rodata');
    expect(byName['.data.hist']!.mapName).toBe('.data.hist');
    expect(byName['.rodata']!.readonly).toBe(true);
    const v = Object.fromEntries(s.dataSections.flatMap((d) => d.variables.map((x) => [x.name, { ...x, section: d.section }])));
    expect(v.filter_pid).toMatchObject({ section: '.rodata', offset: 0, size: 4, global: true });
    expect(v.threshold_ns).toMatchObject({ section: '.rodata', offset: 8, size: 8 });
    expect(v.static_counter).toMatchObject({ section: '.bss', global: false });
    expect(v.counter).toMatchObject({ section: '.data', size: 8 });
    const data = byName['.data']!.data;
    expect(new DataView(data.buffer, data.byteOffset).getBigUint64(0, true)).toBe(100n);
    const hist = byName['.data.hist']!.data;
    expect(new DataView(hist.buffer, hist.byteOffset).getInt32(28, true)).toBe(8);
    // DATASEC fixed up: size and offsets filled from the ELF
    const ds = s.btf!.find('.rodata', BtfKind.Datasec)!;
    expect(ds.size).toBe(byName['.rodata']!.size);
    expect(ds.vars.map((x) => x.offset)).toEqual([0, 8, 16]);
    // a .data map per section, with the image as its initial value
    expect(s.maps.find((m) => m.name === 'globals.data')).toMatchObject({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, source: 'data' });
  });

  it('reads externs and classifies kconfig', () => {
    const s = spec('globals.bpfel.o');
    expect(s.externs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'LINUX_KERNEL_VERSION', kind: 'kconfig', weak: false }),
        expect.objectContaining({ name: 'CONFIG_HZ', kind: 'kconfig', weak: true }),
        expect.objectContaining({ name: 'CONFIG_BPF_SYSCALL', kind: 'kconfig' }),
      ]),
    );
  });

  it('resolves BPF-to-BPF calls, callbacks and data references', () => {
    const s = spec('globals.bpfel.o');
    const fnNames = s.functions.map((f) => `${f.section}:${f.name}`);
    expect(fnNames).toEqual(expect.arrayContaining(['.text:global_sub', '.text:static_sub', '.text:loop_cb']));
    const prog = s.programs.find((p) => p.name === 'use_globals')!;
    const calls = prog.relocations.filter((r) => r.kind === 'call');
    const text = s.functions.filter((f) => f.section === '.text');
    const targetNames = calls.map((c) => text.find((f) => f.sectionOffset === c.offset)?.name);
    expect(targetNames).toContain('static_sub');
    const cb = prog.relocations.find((r) => r.kind === 'func')!;
    expect(text.find((f) => f.sectionOffset === cb.offset)?.name).toBe('loop_cb');
    const data = prog.relocations.filter((r) => r.kind === 'data').map((r) => r.target);
    expect(new Set(data)).toEqual(new Set(['.rodata', '.bss', '.data', '.data.hist', '.rodata.labels']));
    expect(prog.relocations.some((r) => r.kind === 'extern' && r.target === 'LINUX_KERNEL_VERSION')).toBe(true);
    // the static sub calls the global one
    const staticSub = text.find((f) => f.name === 'static_sub')!;
    const inner = staticSub.relocations.find((r) => r.kind === 'call')!;
    expect(text.find((f) => f.sectionOffset === inner.offset)?.name).toBe('global_sub');
  });

  it('gives the same spec for both byte orders (apart from instruction bytes)', () => {
    for (const base of ['maps', 'globals', 'btf_kinds', 'bee_suffix']) {
      const le = spec(`${base}.bpfel.o`);
      const be = spec(`${base}.bpfeb.o`);
      const strip = (s: ObjectSpec) => ({
        programs: s.programs.map(({ insns, ...p }) => ({ ...p, n: insns.length })),
        maps: s.maps.map(({ data, dataSection, ...m }) => m),
        globals: s.dataSections.map((d) => d.variables),
        externs: s.externs,
      });
      expect(strip(be)).toEqual(strip(le));
    }
  });

  it('is deterministic', () => {
    expect(spec('globals.bpfel.o')).toEqual(spec('globals.bpfel.o'));
  });
});
