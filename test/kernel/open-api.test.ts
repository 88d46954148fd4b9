// The open-time API (libbpf's bpf_map__set_* / bpf_program__set_*) on the real kernel: what the
// setters change is what the kernel gets, and a map left for user space to size says so.
import '../../src/syscall/native.js';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../../src/btf/btf.js';
import { BtfKind } from '../../src/btf/types.js';
import { createMap } from '../../src/maps/create.js';
import { BpfObject, LoadError } from '../../src/loader/object.js';
import { OpenApiError } from '../../src/loader/open-api.js';
import { VerifierError } from '../../src/loader/prog-load.js';
import { AttachError } from '../../src/link/attach.js';
import { MapType, ProgType } from '../../src/syscall/constants.js';
import { mapInfo, progInfo } from '../../src/syscall/info.js';
import { fixture, needKernel, thrown } from '../helpers.js';
import fs from 'node:fs';

const skip = needKernel();
const open = () => BpfObject.open(fixture('user_sized.bpfel.o'));

describe.skipIf(skip)('open-time API', () => {
  it('a map without max_entries fails naming the size user space was meant to set', () => {
    const o = open();
    o.programSpec('retarget').setAutoload(false);
    const err = thrown(() => o.load());
    expect(err).toBeInstanceOf(LoadError);
    expect((err as Error).message).toMatch(/^\S*user_sized\.bpfel\.o: map 'sized_later' \(hash\): BPF_MAP_CREATE: EINVAL.*: max_entries is 0, so the object expects user space to size the map before load: mapSpec\('sized_later'\)\.setMaxEntries\(n\) \(libbpf: bpf_map__set_max_entries\)/s);
  });

  it('setMaxEntries / setKeySize / setValueSize / setType reach the kernel; setAttachTarget retargets a tp_btf program', () => {
    using o = open();
    o.mapSpec('sized_later').setMaxEntries(64);
    o.mapSpec('spare').setType(MapType.LRU_HASH).setKeySize(8).setValueSize(32).setMaxEntries(16);
    o.programSpec('retarget').setAttachTarget('sys_enter');
    o.programSpec('other').setType(ProgType.SOCKET_FILTER);
    o.load();
    expect(mapInfo(o.map('sized_later').fd.value)).toMatchObject({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 64 });
    expect(mapInfo(o.map('spare').fd.value)).toMatchObject({ type: MapType.LRU_HASH, keySize: 8, valueSize: 32, maxEntries: 16 });
    const k = parseBtf(fs.readFileSync('/sys/kernel/btf/vmlinux'));
    const want = k.idsByName('btf_trace_sys_enter').find((id) => k.types[id]!.kind === BtfKind.Typedef);
    expect(progInfo(o.program('retarget').fd.value).attachBtfId).toBe(want);
    expect(progInfo(o.program('other').fd.value).type).toBe(ProgType.SOCKET_FILTER);
    o.program('use_sized').testRun();
    expect(o.map('sized_later').lookup(1)).toBe(2n);
    // Once loaded, the spec is fixed.
    expect(() => o.mapSpec('spare').setMaxEntries(1)).toThrow(OpenApiError);
    expect(() => o.mapSpec('spare').setMaxEntries(1)).toThrow(/map 'spare': setMaxEntries after load; call it between open\(\) and load\(\)/);
    expect(() => o.programSpec('other').setAutoload(false)).toThrow(/after load/);
  });

  it('setAutoload(false) leaves a program out; setAutocreate(false) leaves a map out and a program using it must stay out', () => {
    {
      using o = open();
      o.mapSpec('sized_later').setMaxEntries(4).setAutocreate(false);
      o.programSpec('retarget').setAttachTarget('sys_enter');
      expect(() => o.load()).toThrow(/program 'use_sized' uses map 'sized_later', which was not created \(autocreate is off/);
    }
    using o = open();
    o.mapSpec('sized_later').setAutocreate(false);
    o.programSpec('use_sized').setAutoload(false);
    o.programSpec('retarget').setAutoload(false);
    o.load();
    expect([...o.programs.keys()]).toEqual(['other']);
    expect(o.maps.has('sized_later')).toBe(false);
    expect(() => o.program('use_sized')).toThrow(/program 'use_sized' was not loaded/);
  });

  it('setInnerMap gives a map of maps its inner template', () => {
    // maps.c pins pinned_array by name: under a folder of this test's own, not the shared /sys/fs/bpf.
    const pinRoot = fs.mkdtempSync('/sys/fs/bpf/bee-open-api-');
    try {
      using o = BpfObject.open(fixture('maps.bpfel.o'), { pinRoot });
      const spec = o.mapSpec('inner').spec;
      using tmpl = createMap({ ...spec, name: 'tmpl' });
      o.mapSpec('outer').setInnerMap(tmpl);
      o.load();
      expect(mapInfo(o.map('outer').fd.value).type).toBe(MapType.HASH_OF_MAPS);
      expect(() => o.mapSpec('counts').setInnerMap(tmpl)).toThrow(/after load/);
      expect(fs.existsSync(`${pinRoot}/pinned_array`)).toBe(true);
    } finally {
      fs.rmSync(pinRoot, { recursive: true, force: true });
    }
  });

  it('load and attach errors from every layer name the object file and keep their class', () => {
    const bad = fixture('bad_verifier.bpfel.o');
    const err = thrown(() => BpfObject.open(bad).load());
    expect(err).toBeInstanceOf(VerifierError);
    expect((err as Error).message.startsWith(`${bad}: program 'out_of_bounds'`)).toBe(true);
    using o = open();
    o.mapSpec('sized_later').setMaxEntries(4);
    o.programSpec('retarget').setAutoload(false);
    o.load();
    const attachErr = thrown(() => o.program('other').attach()); // SEC("syscall") has no attach point
    expect(attachErr).toBeInstanceOf(AttachError);
    expect((attachErr as Error).message.startsWith(`${fixture('user_sized.bpfel.o')}: `)).toBe(true);
  });
});
