// Types of scripts/api.mjs for test/api.test.ts.
export declare const root: string;
export declare const REPORT: string;
export declare const DOCS: string;
export declare function workDir(): string;
export declare function buildTypes(work: string): string;
export declare function extract(entry: string, work: string, o?: { update?: boolean; reportFolder?: string; messages?: string[] }): { errors: number; changed: boolean; model: string };
export declare function renderDocs(model: string, out: string): void;
export declare function diffDirs(a: string, b: string): string[];
