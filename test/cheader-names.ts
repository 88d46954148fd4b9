// What a generated vmlinux.h declares, read back from its text: tags defined and forward-declared,
// typedef names, enumerators (name = value) and kfunc prototypes. Works on bpftool's dump and
// on ours (both write one top-level declaration per paragraph, enumerators one per line).

export interface HeaderNames {
  defined: Set<string>;
  forward: Set<string>;
  typedefs: Set<string>;
  enumerators: Map<string, string>;
  kfuncs: Map<string, string>;
  /** Top-level `enum {` blocks. */
  anonEnums: number;
}

function stripBodies(s: string): string {
  let out = '';
  let depth = 0;
  for (const c of s) {
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

function typedefName(stmt: string): string {
  let s = stripBodies(stmt).replace(/__attribute__\(\(.*?\)\)/g, '').trim().replace(/;$/, '').trim();
  const fp = /\(\s*\*\s*(?:const\s+)?(\w+)\s*(?:\[[^\]]*\])*\s*\)/.exec(s);
  if (fp) return fp[1]!;
  s = s.replace(/(\s*\[[^\]]*\])+$/, '');
  return /(\w+)$/.exec(s)?.[1] ?? '';
}

export function headerNames(text: string): HeaderNames {
  const r: HeaderNames = { defined: new Set(), forward: new Set(), typedefs: new Set(), enumerators: new Map(), kfuncs: new Map(), anonEnums: 0 };
  for (const m of text.matchAll(/^\s*(\w+) = (-?\d+)(?:U?LL)?,$/gm)) r.enumerators.set(m[1]!, m[2]!);
  for (const m of text.matchAll(/^extern (.*) __weak __ksym;$/gm)) {
    const proto = m[1]!.replace(/^__bpf_fastcall /, '');
    const name = /(\w+)\(/.exec(proto)?.[1] ?? proto;
    r.kfuncs.set(name, proto.replace(/\s+/g, ' '));
  }
  // Top-level statements start at column 0 and end with `;` at the end of a line at depth 0.
  let depth = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (start < 0) {
      if (c === '#' || c === '\n') {
        const e = text.indexOf('\n', i);
        i = e < 0 ? text.length : e;
        continue;
      }
      start = i;
    }
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === ';' && depth === 0) {
      const stmt = text.slice(start, i + 1);
      start = -1;
      const head = /^(struct|union|enum) (\w+)\s*([{;])/.exec(stmt);
      if (stmt.startsWith('typedef ')) r.typedefs.add(typedefName(stmt.slice(8)));
      else if (/^enum \{/.test(stmt)) r.anonEnums++;
      else if (head) (head[3] === '{' ? r.defined : r.forward).add(`${head[1]} ${head[2]}`);
      else if (/^(struct|union|enum) (\w+)\s/.test(stmt) && !stmt.includes('{')) r.forward.add(stmt.split(/\s+/).slice(0, 2).join(' '));
    }
  }
  for (const d of r.defined) r.forward.delete(d);
  return r;
}

/** Every name in `ref` that `ours` lacks, by category. */
export function missingNames(ours: HeaderNames, ref: HeaderNames) {
  const tagsOurs = new Set([...ours.defined, ...ours.forward]);
  return {
    defined: [...ref.defined].filter((x) => !ours.defined.has(x)),
    forward: [...ref.forward].filter((x) => !tagsOurs.has(x)),
    typedefs: [...ref.typedefs].filter((x) => !ours.typedefs.has(x)),
    enumerators: [...ref.enumerators].filter(([k, v]) => ours.enumerators.get(k) !== v).map(([k]) => k),
    kfuncs: [...ref.kfuncs].filter(([k, v]) => ours.kfuncs.get(k) !== v).map(([k]) => k),
  };
}
