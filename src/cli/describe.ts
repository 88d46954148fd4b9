// `bee-ts describe <file.o>`: what an object holds, without touching the kernel.
import { beeRoles } from '../bee/roles.js';
import { typeToC } from '../btf/cdump.js';
import { type ObjectSpec, parseObject, programInsnCount } from '../loader/spec.js';
import { attachTypeName, mapTypeName, progTypeName } from '../syscall/constants.js';
import { hex, table } from './format.js';
import { readInputFile } from '../syscall/files.js';

export function loadSpec(path: string): ObjectSpec {
  return parseObject(readInputFile(path, 'object file'), { file: path });
}

/** @throws SpecError for a map whose bee name prefix and section suffix disagree (as `bee-ts run`). */
export function describeJson(spec: ObjectSpec): Record<string, unknown> {
  const roles = beeRoles(spec);
  const tn = (id?: number) => (id !== undefined && spec.btf ? typeToC(spec.btf, id) : undefined);
  const role = (name: string) => {
    const r = roles.get(name);
    return r ? { role: r.role, role_source: r.source } : {};
  };
  return {
    file: spec.file,
    license: spec.license,
    kernel_version: spec.kernelVersion,
    endianness: spec.littleEndian ? 'little' : 'big',
    programs: spec.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: progTypeName(p.progType),
      ...(p.expectedAttachType !== undefined ? { expected_attach_type: attachTypeName(p.expectedAttachType) } : {}),
      attach: p.attach,
      attach_target: p.attachTarget,
      insns: programInsnCount(p),
    })),
    maps: spec.maps.map((m) => ({
      name: m.name,
      type: mapTypeName(m.type),
      key_size: m.keySize,
      value_size: m.valueSize,
      ...(m.keyTypeId !== undefined ? { key_type: tn(m.keyTypeId) } : {}),
      ...(m.valueTypeId !== undefined ? { value_type: tn(m.valueTypeId) } : {}),
      max_entries: m.maxEntries,
      flags: m.flags,
      section: m.section,
      source: m.source,
      ...role(m.name),
      ...(m.pinning ? { pinning: 'by_name' } : {}),
      ...(m.inner ? { inner: { type: mapTypeName(m.inner.type), key_size: m.inner.keySize, value_size: m.inner.valueSize, max_entries: m.inner.maxEntries } } : {}),
    })),
    globals: spec.dataSections.flatMap((d) =>
      d.variables.map((v) => ({
        section: d.section,
        map: d.mapName,
        name: v.name,
        type: v.typeId ? tn(v.typeId) : undefined,
        offset: v.offset,
        size: v.size,
        global: v.global,
      })),
    ),
    externs: spec.externs.map((e) => ({ name: e.name, kind: e.kind, weak: e.weak, ...(e.typeId ? { type: tn(e.typeId) } : {}) })),
  };
}

export function describeText(spec: ObjectSpec): string {
  const j = describeJson(spec) as {
    programs: { name: string; section: string; type: string; insns: number }[];
    maps: { name: string; type: string; key_size: number; value_size: number; key_type?: string; value_type?: string; max_entries: number; flags: number; role?: string; role_source?: string }[];
    globals: { section: string; name: string; type?: string; size: number; offset: number }[];
    externs: { name: string; kind: string; weak: boolean; type?: string }[];
  };
  const out: string[] = [];
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  out.push(
    `${spec.file}: ${plural(j.programs.length, 'program')}, ${plural(j.maps.length, 'map')}, ${plural(j.globals.length, 'global')}` +
      `, license "${spec.license}", ${spec.littleEndian ? 'little' : 'big'}-endian`,
  );
  out.push('', 'PROGRAMS');
  out.push(table(['NAME', 'SECTION', 'TYPE', 'INSNS'], j.programs.map((p) => [p.name, p.section, p.type, p.insns]), '  '));
  out.push('', 'MAPS');
  out.push(
    table(
      ['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX_ENTRIES', 'FLAGS', 'ROLE'],
      j.maps.map((m) => [
        m.name,
        m.type,
        m.key_type ? `${m.key_size} (${m.key_type})` : String(m.key_size),
        m.value_type ? `${m.value_size} (${m.value_type})` : String(m.value_size),
        m.max_entries,
        hex(m.flags),
        m.role ? `${m.role} (${m.role_source})` : '-',
      ]),
      '  ',
    ),
  );
  if (j.globals.length) {
    out.push('', 'GLOBALS');
    out.push(table(['SECTION', 'NAME', 'TYPE', 'OFFSET', 'SIZE'], j.globals.map((g) => [g.section, g.name, g.type ?? '?', g.offset, g.size]), '  '));
  }
  if (j.externs.length) {
    out.push('', 'EXTERNS');
    out.push(table(['NAME', 'KIND', 'TYPE', 'WEAK'], j.externs.map((e) => [e.name, e.kind, e.type ?? '-', e.weak ? 'yes' : 'no']), '  '));
  }
  return out.join('\n') + '\n';
}
