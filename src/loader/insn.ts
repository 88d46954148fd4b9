// BPF instruction encoding helpers (8-byte slots; ld_imm64 spans two).

export const INSN_SIZE = 8;

export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

export const BPF_IMM = 0x00;
export const BPF_DW = 0x18;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_K = 0x00;
export const BPF_MOV = 0xb0;

export const OP_LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW; // 0x18
export const OP_CALL = BPF_JMP | BPF_CALL; // 0x85
export const OP_EXIT = BPF_JMP | BPF_EXIT; // 0x95

export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

export const insnClass = (code: number) => code & 0x07;

/** A mutable view over an instruction buffer that knows the object's byte order. */
export class InsnBuffer {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian = true,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get count(): number {
    return this.bytes.length / INSN_SIZE;
  }
  code(i: number): number {
    return this.bytes[i * 8]!;
  }
  setCode(i: number, v: number): void {
    this.bytes[i * 8] = v;
  }
  dst(i: number): number {
    const r = this.bytes[i * 8 + 1]!;
    return this.littleEndian ? r & 0xf : r >> 4;
  }
  src(i: number): number {
    const r = this.bytes[i * 8 + 1]!;
    return this.littleEndian ? r >> 4 : r & 0xf;
  }
  setSrc(i: number, v: number): void {
    const r = this.bytes[i * 8 + 1]!;
    this.bytes[i * 8 + 1] = this.littleEndian ? (r & 0x0f) | (v << 4) : (r & 0xf0) | v;
  }
  setDst(i: number, v: number): void {
    const r = this.bytes[i * 8 + 1]!;
    this.bytes[i * 8 + 1] = this.littleEndian ? (r & 0xf0) | v : (r & 0x0f) | (v << 4);
  }
  off(i: number): number {
    return this.dv.getInt16(i * 8 + 2, this.littleEndian);
  }
  setOff(i: number, v: number): void {
    this.dv.setInt16(i * 8 + 2, v, this.littleEndian);
  }
  imm(i: number): number {
    return this.dv.getInt32(i * 8 + 4, this.littleEndian);
  }
  setImm(i: number, v: number): void {
    this.dv.setInt32(i * 8 + 4, v | 0, this.littleEndian);
  }
  isLdImm64(i: number): boolean {
    return this.code(i) === OP_LD_IMM64;
  }
  isCall(i: number): boolean {
    return this.code(i) === OP_CALL;
  }
  /** The 64-bit immediate of an ld_imm64 pair. */
  imm64(i: number): bigint {
    const lo = BigInt(this.dv.getUint32(i * 8 + 4, this.littleEndian));
    const hi = BigInt(this.dv.getUint32(i * 8 + 12, this.littleEndian));
    return (hi << 32n) | lo;
  }
  setImm64(i: number, v: bigint): void {
    this.dv.setUint32(i * 8 + 4, Number(v & 0xffffffffn), this.littleEndian);
    this.dv.setUint32(i * 8 + 12, Number((v >> 32n) & 0xffffffffn), this.littleEndian);
  }
}
