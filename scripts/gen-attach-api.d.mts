// Types of scripts/gen-attach-api.mjs for test/attach-api.test.ts.
export interface AttachTable {
  /** Hook kind names, sorted. */
  kinds: string[];
  /** Options interfaces: [name, file in src/link ('kprobe.js')], sorted by name. */
  options: [string, string][];
  /** The table file's type errors. */
  diagnostics: string[];
}
export declare const ATTACH_API: string;
export declare function readTable(table?: string): AttachTable;
export declare function render(t: Pick<AttachTable, 'kinds' | 'options'>): string;
