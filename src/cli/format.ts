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

/**
 * Streams a large output straight to stdout as it is produced. stdout writes to files and pipes
 * are synchronous on Linux, so nothing accumulates in memory (which the GC would pay for).
 */
export function writeChunks(produce: (write: (s: string) => void) => void): void {
  produce((s) => {
    process.stdout.write(s);
  });
}
