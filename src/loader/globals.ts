// An object's global variables by name: the variables of its data sections (.data, .bss,
// .rodata and named ones), read and written through the section's mmap'd map after load (or
// the map itself when it is not mmapable), and the spec's image before load.
import { type Codec, CodecError, compileCodec } from '../maps/codec.js';
import { LoadError } from './load-error.js';
import { OpenApiError } from './open-api.js';
import type { DataSectionSpec, ObjectSpec } from './spec.js';

/** What Globals reads of its object (a BpfObject): the spec, and the data sections' current bytes. @internal */
export interface GlobalsHost {
  readonly spec: ObjectSpec;
  readonly file: string;
  readonly loaded: boolean;
  dataView(d: DataSectionSpec, write?: boolean): DataView;
  flushData(d: DataSectionSpec): void;
}

/** Global variables of a loaded object, read and written through the mmap'd data maps. */
export class Globals {
  private codecs = new Map<string, Codec>();
  /** Made by the object (`BpfObject.globals`). @internal */
  constructor(private readonly obj: GlobalsHost) {}

  /** Names of the object's global variables (static ones included). */
  names(): string[] {
    return this.obj.spec.dataSections.flatMap((d) => d.variables.map((v) => v.name));
  }

  private locate(name: string): { d: DataSectionSpec; off: number; size: number; typeId: number } {
    for (const d of this.obj.spec.dataSections) {
      const v = d.variables.find((x) => x.name === name);
      if (v) return { d, off: v.offset, size: v.size, typeId: v.typeId };
    }
    throw new LoadError(this.obj.file, `no global variable '${name}' (have: ${this.names().join(', ') || 'none'})`);
  }

  private codec(name: string, typeId: number): Codec | undefined {
    if (!typeId || !this.obj.spec.btf) return undefined;
    let c = this.codecs.get(name);
    if (!c) {
      c = compileCodec(this.obj.spec.btf, typeId, { littleEndian: this.obj.spec.littleEndian });
      this.codecs.set(name, c);
    }
    return c;
  }

  /**
   * @throws {@link LoadError} when there is no such global; {@link BpfError} when reading a non-mmapable data map fails.
   */
  get(name: string): unknown {
    const { d, off, size, typeId } = this.locate(name);
    const dv = this.obj.dataView(d);
    const c = this.codec(name, typeId);
    return c ? c.decode(dv, off) : new Uint8Array(dv.buffer.slice(dv.byteOffset + off, dv.byteOffset + off + size));
  }

  /**
   * @throws {@link LoadError} when there is no such global; {@link OpenApiError} for a read-only section after load;
   * @throws {@link CodecError} when the value does not fit the variable's type.
   */
  set(name: string, value: unknown): void {
    const { d, off, size, typeId } = this.locate(name);
    if (this.obj.loaded && d.readonly) throw new OpenApiError(this.obj.file, `'${name}' is in ${d.section}, which is read-only after load; set it before load()`);
    const c = this.codec(name, typeId);
    const dv = this.obj.dataView(d, true);
    if (c)
      try {
        c.encode(value, dv, off);
      } catch (e) {
        if (e instanceof CodecError) throw new CodecError(`${this.obj.file}: global '${name}': ${e.message}`);
        throw e;
      }
    else if (value instanceof Uint8Array && value.length === size) new Uint8Array(dv.buffer, dv.byteOffset + off, size).set(value);
    else throw new LoadError(this.obj.file, `'${name}' has no BTF type: pass ${size} bytes`);
    this.obj.flushData(d);
  }
}
