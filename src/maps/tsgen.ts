// TypeScript declarations for what the BTF codecs (codec.ts) produce: `bee-ts gen ts` writes them
// so a probe's maps and globals are typed in the caller's code. The rules mirror compileCodec:
// ints of ≤ 4 bytes are numbers, 8-byte ints and pointers bigints, bool a boolean, char arrays
// strings, other arrays arrays, enums their value names (or the number for unknown values),
// structs and unions objects with anonymous members lifted, bitfields numbers (bigint past 32 bits).
import type { Btf } from '../btf/btf.js';
import { BtfKind, INT_BOOL } from '../btf/types.js';
import { flattenMembers, isCharType } from './codec.js';

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with as implements interface let package private protected public static yield any boolean number string symbol type object bigint never unknown undefined'.split(' '),
);

export class TsTypes {
  /** Named declarations by TS name, in the order first needed. */
  readonly decls = new Map<string, string>();
  private readonly names = new Map<number, string>();
  private readonly used = new Set<string>();

  constructor(readonly btf: Btf) {}

  private declName(id: number, base: string, kind: string): string {
    const hit = this.names.get(id);
    if (hit) return hit;
    let name = /^[A-Za-z_$][\w$]*$/.test(base) && !RESERVED.has(base) ? base : `${kind}_${base.replace(/\W/g, '_')}`;
    while (this.used.has(name)) name = `${kind}_${name}`;
    this.used.add(name);
    this.names.set(id, name);
    return name;
  }

  /** The TS type of a decoded value of BTF type `id`. */
  typeOf(id: number, depth = 0): string {
    if (depth > 32) return 'unknown';
    const t = this.btf.typeOrUndefined(id);
    if (!t) return 'unknown';
    switch (t.kind) {
      case BtfKind.Void:
        return 'Uint8Array';
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        return this.typeOf(t.type, depth + 1);
      case BtfKind.Int:
        if (t.encoding & INT_BOOL) return 'boolean';
        return t.size <= 4 ? 'number' : t.size === 8 ? 'bigint' : 'Uint8Array';
      case BtfKind.Float:
        return t.size === 4 || t.size === 8 ? 'number' : 'Uint8Array';
      case BtfKind.Ptr:
        return 'bigint';
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const raw = t.size <= 4 ? 'number' : 'number | bigint';
        const body = [...new Set(t.values.map((v) => JSON.stringify(v.name)))].join(' | ');
        if (!t.name) return `${body ? `${body} | ` : ''}${raw}`;
        const name = this.declName(id, t.name, 'enum');
        if (!this.decls.has(name)) this.decls.set(name, `/** enum ${t.name}: the value's name, or the number when no name matches */\nexport type ${name} = ${body ? `${body} | ` : ''}${raw};`);
        return name;
      }
      case BtfKind.Array:
        if (isCharType(this.btf, t.type)) return 'string';
        return `${wrap(this.typeOf(t.type, depth + 1))}[]`;
      case BtfKind.Struct:
      case BtfKind.Union: {
        const what = t.kind === BtfKind.Struct ? 'struct' : 'union';
        const name = t.name ? this.declName(id, t.name, what) : undefined;
        if (name && this.decls.has(name)) return name;
        if (name) this.decls.set(name, ''); // reserve (self-reference through pointers is a bigint, so no cycles)
        const fields = flattenMembers(this.btf, t.members, 0).map((m) => {
          let ty: string;
          if (m.bitfieldSize) {
            const rt = this.btf.resolve(m.type);
            ty = rt.kind === BtfKind.Int && rt.encoding & INT_BOOL ? 'boolean' : m.bitfieldSize > 32 ? 'bigint' : 'number';
          } else ty = this.typeOf(m.type, depth + 1);
          return `${propName(m.name)}: ${ty};`;
        });
        const body = `{ ${fields.join(' ')} }`;
        if (!name) return body;
        const doc = `/** ${what} ${t.name} (${t.size} bytes)${t.kind === BtfKind.Union ? ': every member decoded from the same bytes' : ''} */`;
        this.decls.set(name, `${doc}\nexport interface ${name} {\n${fields.map((f) => `  ${f}`).join('\n')}\n}`);
        return name;
      }
      case BtfKind.Datasec: {
        const vars = t.vars.map((v) => `${propName(this.btf.typeById(v.type).name)}: ${this.typeOf(v.type, depth + 1)};`);
        return `{ ${vars.join(' ')} }`;
      }
      default:
        return 'unknown';
    }
  }
}

const wrap = (t: string) => (/[ |{]/.test(t) ? `(${t})` : t);
export const propName = (n: string) => (/^[A-Za-z_$][\w$]*$/.test(n) ? n : JSON.stringify(n));
