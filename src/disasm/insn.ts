// What every disassembler here returns, and LLVM's line for it.

export interface Insn {
  /** Bytes consumed (at least 1). */
  len: number;
  mnemonic: string;
  operands: string[];
  /** True for bytes the decoder does not know (`(bad)`). */
  bad?: boolean;
}

/** LLVM's line for an instruction: `\tmnemonic\top1, op2` (no operands: `\tmnemonic`). */
export function insnText(i: Insn): string {
  return i.operands.length ? `\t${i.mnemonic}\t${i.operands.join(', ')}` : `\t${i.mnemonic}`;
}
