// `bee-ts feature list_builtins GROUP`: the names bee-ts knows for program, map, attach and link
// types (libbpf's spelling, by number from 0, as bpftool 7.1 prints libbpf 1.1's: bee-ts's tables
// are newer, so they go on past 7.1's last entry) and the helpers (from the running kernel's
// `enum bpf_func_id`, which bpftool compiles in from its uapi header).
import { BtfKind } from '../btf/types.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { AttachType, attachTypeName, LinkType, linkTypeName, MapType, mapTypeName, ProgType, progTypeName } from '../syscall/constants.js';
import { matchPrefix } from './argv.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';

/** The kernel's helpers, from enum bpf_func_id in its BTF, by id: [id, bpf_name] (0 is bpf_unspec). */
export function kernelHelperNames(): [number, string][] {
  let btf: ReturnType<typeof vmlinuxBtf> | undefined;
  try {
    btf = vmlinuxBtf();
  } catch {
    btf = undefined;
  }
  if (!btf) return [];
  for (const id of [...btf.findIds('bpf_func_id', BtfKind.Enum), ...btf.findIds('bpf_func_id', BtfKind.Enum64)].sort((a, b) => a - b)) {
    const t = btf.typeById(id);
    if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) continue;
    return t.values
      .filter((v) => v.name.startsWith('BPF_FUNC_') && v.value >= 0n)
      .map((v) => [Number(v.value), `bpf_${v.name.slice('BPF_FUNC_'.length)}`] as [number, string])
      .sort((x, y) => x[0] - y[0]);
  }
  return [];
}

const GROUPS = ['prog_types', 'map_types', 'attach_types', 'link_types', 'helpers'] as const;

/** Names by number from 0 up to the first number without one, as bpftool walks libbpf's tables. */
function dense(values: Record<string, number>, name: (n: number) => string): string[] {
  const known = new Set(Object.values(values));
  const out: string[] = [];
  for (let n = 0; known.has(n); n++) out.push(name(n));
  return out;
}

export function listBuiltins(group: string): string[] {
  switch (matchPrefix(group, GROUPS)) {
    case 'prog_types':
      return dense(ProgType, progTypeName);
    case 'map_types':
      return dense(MapType, mapTypeName);
    case 'attach_types':
      return dense(AttachType, attachTypeName);
    case 'link_types':
      return dense(LinkType, linkTypeName);
    case 'helpers': {
      const helpers = kernelHelperNames();
      if (!helpers.length) throw new CliExit('feature list_builtins helpers: no enum bpf_func_id in /sys/kernel/btf/vmlinux to read the helper names from (a kernel built without CONFIG_DEBUG_INFO_BTF)');
      const out: string[] = [];
      for (let i = 0; helpers[i]?.[0] === i; i++) out.push(helpers[i]![1]);
      return out;
    }
    default:
      throw new UsageError(`expected 'prog_types', 'map_types', 'attach_types', 'link_types' or 'helpers', got: ${group}`);
  }
}

/** feature list_builtins GROUP: one name a line, or a JSON array of strings. */
export function listBuiltinsCommand(words: string[]): void {
  if (words.length < 1) throw new UsageError(`feature list_builtins GROUP (${GROUPS.join(' | ')})`);
  const names = listBuiltins(words[0]!);
  process.stdout.write(globals.json ? jsonText(names) + '\n' : names.map((n) => `${n}\n`).join(''));
}
