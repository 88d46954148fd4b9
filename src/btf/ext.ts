// .BTF.ext decoder: func_info, line_info and CO-RE relocation records, grouped by
// ELF section name. Instruction offsets stay in bytes here; the loader converts.
import { BTF_MAGIC, type Btf } from './btf.js';
import { BtfError } from './types.js';

export interface FuncInfo {
  insnOff: number;
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  fileName: string;
  line: string;
  lineNum: number;
  column: number;
  /** Raw offsets, needed to re-encode records for the kernel. */
  fileNameOff: number;
  lineOff: number;
}

export enum CoreRelocKind {
  FieldByteOffset = 0,
  FieldByteSize = 1,
  FieldExists = 2,
  FieldSigned = 3,
  FieldLShiftU64 = 4,
  FieldRShiftU64 = 5,
  TypeIdLocal = 6,
  TypeIdTarget = 7,
  TypeExists = 8,
  TypeSize = 9,
  EnumvalExists = 10,
  EnumvalValue = 11,
  TypeMatches = 12,
}

export const CORE_KIND_NAMES: Record<CoreRelocKind, string> = {
  [CoreRelocKind.FieldByteOffset]: 'byte_off',
  [CoreRelocKind.FieldByteSize]: 'byte_sz',
  [CoreRelocKind.FieldExists]: 'field_exists',
  [CoreRelocKind.FieldSigned]: 'signed',
  [CoreRelocKind.FieldLShiftU64]: 'lshift_u64',
  [CoreRelocKind.FieldRShiftU64]: 'rshift_u64',
  [CoreRelocKind.TypeIdLocal]: 'local_type_id',
  [CoreRelocKind.TypeIdTarget]: 'target_type_id',
  [CoreRelocKind.TypeExists]: 'type_exists',
  [CoreRelocKind.TypeSize]: 'type_size',
  [CoreRelocKind.EnumvalExists]: 'enumval_exists',
  [CoreRelocKind.EnumvalValue]: 'enumval_value',
  [CoreRelocKind.TypeMatches]: 'type_matches',
};

export interface CoreRelo {
  insnOff: number;
  typeId: number;
  accessStr: string;
  kind: CoreRelocKind;
}

export interface BtfExt {
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
}

const FUNC_INFO_MIN = 8;
const LINE_INFO_MIN = 16;
const CORE_RELO_MIN = 16;

export function parseBtfExt(bytes: Uint8Array, btf: Btf, file = '<btf.ext>'): BtfExt {
  const fail = (defect: string): never => {
    throw new BtfError(file, `.BTF.ext: ${defect}`);
  };
  if (bytes.length < 24) fail(`${bytes.length} bytes is shorter than the header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (dv.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (dv.getUint16(0, false) === BTF_MAGIC) le = false;
  else return fail('bad magic');
  if (bytes[2] !== 1) fail(`unsupported version ${bytes[2]}`);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < 24 || hdrLen > bytes.length) fail(`header length ${hdrLen} is invalid`);
  const u32 = (o: number) => dv.getUint32(o, le);

  const out: BtfExt = { funcInfoRecSize: 0, lineInfoRecSize: 0, funcInfo: new Map(), lineInfo: new Map(), coreRelos: new Map() };

  const walk = (
    what: string,
    off: number,
    len: number,
    minRec: number,
    rec: (o: number, sec: string) => void,
  ): number => {
    if (len === 0) return 0;
    const start = hdrLen + off;
    if (off > bytes.length - hdrLen || len > bytes.length - start) fail(`${what} [${off}, +${len}) is outside the section`);
    if (len < 4) fail(`${what} is too short`);
    const recSize = u32(start);
    if (recSize < minRec || recSize % 4 !== 0 || recSize > 1024) fail(`${what} record size ${recSize} is invalid`);
    let p = start + 4;
    const end = start + len;
    while (p < end) {
      if (end - p < 8) fail(`${what} block header truncated`);
      const secName = btf.strAt(u32(p));
      if (secName === undefined) fail(`${what} section name offset ${u32(p)} is out of range`);
      const n = u32(p + 4);
      p += 8;
      if (n === 0) fail(`${what} block for ${secName} is empty`);
      if (n > (end - p) / recSize) fail(`${what} block for ${secName} claims ${n} records, more than fit`);
      for (let i = 0; i < n; i++, p += recSize) rec(p, secName!);
    }
    return recSize;
  };

  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };

  out.funcInfoRecSize = walk('func_info', u32(8), u32(12), FUNC_INFO_MIN, (o, sec) => {
    push(out.funcInfo, sec, { insnOff: u32(o), typeId: u32(o + 4) });
  });
  out.lineInfoRecSize = walk('line_info', u32(16), u32(20), LINE_INFO_MIN, (o, sec) => {
    const fileNameOff = u32(o + 4);
    const lineOff = u32(o + 8);
    const lc = u32(o + 12);
    const fileName = btf.strAt(fileNameOff);
    const line = btf.strAt(lineOff);
    if (fileName === undefined || line === undefined) fail(`line_info in ${sec}: string offset out of range`);
    push(out.lineInfo, sec, { insnOff: u32(o), fileName: fileName!, line: line!, lineNum: lc >>> 10, column: lc & 0x3ff, fileNameOff, lineOff });
  });
  if (hdrLen >= 32) {
    walk('core_relo', u32(24), u32(28), CORE_RELO_MIN, (o, sec) => {
      const accessStr = btf.strAt(u32(o + 8));
      if (accessStr === undefined) fail(`CO-RE relocation in ${sec}: access string offset out of range`);
      const kind = u32(o + 12);
      if (kind > CoreRelocKind.TypeMatches) fail(`CO-RE relocation in ${sec}: unknown kind ${kind}`);
      push(out.coreRelos, sec, { insnOff: u32(o), typeId: u32(o + 4), accessStr: accessStr!, kind });
    });
  }
  return out;
}
