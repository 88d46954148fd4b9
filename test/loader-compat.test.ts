// libbpf's object rules that need no kernel: legacy `maps` definitions and plain externs.
import { describe, expect, it } from 'vitest';
import { type ObjectSpec, parseObject, SpecError } from '../src/loader/spec.js';
import { MapType } from '../src/syscall/constants.js';
import { readFixture } from './helpers.js';

const spec = (name: string): ObjectSpec => parseObject(readFixture(name), { file: name });

describe('legacy maps (libbpf 0.x rules)', () => {
  it('a perf event array declared with zero key/value sizes gets 4/4', () => {
    const m = spec('legacy_perf.bpfel.o').maps.find((x) => x.name === 'legacy_events')!;
    expect(m).toMatchObject({ source: 'legacy', type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 0 });
  });

  it('non-zero bytes past struct bpf_map_def are refused, naming the map and the offset', () => {
    expect(() => spec('legacy_options.bpfel.o')).toThrow(SpecError);
    expect(() => spec('legacy_options.bpfel.o')).toThrow(/^legacy_options\.bpfel\.o: map 'numa_hash' \(legacy maps section\): has non-zero bytes at offset 24, past the 20 bytes of struct bpf_map_def/);
  });
});

describe('externs', () => {
  it('a plain extern function (no __ksym) is refused at open, not bound to the kfunc of that name', () => {
    expect(() => spec('extern_plain.bpfel.o')).toThrow(SpecError);
    expect(() => spec('extern_plain.bpfel.o')).toThrow(/^extern_plain\.bpfel\.o: extern 'bpf_task_from_pid': is declared without __ksym or __kconfig/);
  });

  it('__ksym functions are kfuncs, __ksym variables ksyms', () => {
    const e = spec('ksym_spinlock.bpfel.o').externs;
    expect(Object.fromEntries(e.map((x) => [x.name, x.kind]))).toEqual({ _stext: 'ksym', bpf_task_from_pid: 'kfunc', bpf_task_release: 'kfunc', bpf_kfunc_that_does_not_exist: 'kfunc' });
  });
});

describe('open-time API: argument checks (no kernel)', () => {
  it('refuses bad sizes, unknown types, misplaced inner maps and data-section layouts', async () => {
    const { BpfObject } = await import('../src/loader/object.js');
    const { OpenApiError } = await import('../src/loader/open-api.js');
    const o = BpfObject.fromBytes(readFixture('user_sized.bpfel.o'), { file: 'user_sized.o' });
    const m = o.mapSpec('spare');
    expect(() => m.setMaxEntries(-1)).toThrow(OpenApiError);
    expect(() => m.setMaxEntries(2 ** 32)).toThrow(/user_sized\.o: max_entries must be an integer from 0 to 4294967295, got 4294967296/);
    expect(() => m.setValueSize(1.5)).toThrow(/value_size must be an integer/);
    expect(() => m.setType(9999)).toThrow(/map 'spare': unknown map type 9999/);
    expect(() => m.setInnerMap(3)).toThrow(/map 'spare' is a hash map, not a map of maps/);
    expect(() => o.mapSpec('.bss').setMaxEntries(2)).toThrow(/holds \.bss; its layout comes from the object's globals/);
    expect(() => o.mapSpec('nope')).toThrow(/user_sized\.o: no map 'nope' \(have: /);
    expect(() => o.programSpec('other').setType(0)).toThrow(/unknown program type 0/);
    expect(() => o.programSpec('retarget').setAttachTarget('x y')).toThrow(/attach target must be a kernel symbol name/);
    // Setters chain and are visible in the spec.
    m.setMaxEntries(5).setKeySize(8).setAutocreate(false);
    expect(m.spec).toMatchObject({ maxEntries: 5, keySize: 8, keyTypeId: undefined });
    expect(m.autocreate).toBe(false);
    expect(o.programSpec('other').setAutoload(false).autoload).toBe(false);
  });
});
