// Output helpers shared by CLI commands: aligned tables for people, JSON for machines.

/** Left-aligned columns separated by two spaces; trailing spaces trimmed. */
export function table(header: string[], rows: (string | number)[][], indent = ''): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  return all
    .map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Writes a big string to stdout without building one giant buffer, respecting back-pressure. */
export async function writeChunks(produce: (write: (s: string) => void) => void): Promise<void> {
  const chunks: string[] = [];
  produce((s) => chunks.push(s));
  for (const c of chunks) {
    if (!process.stdout.write(c)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  }
}
