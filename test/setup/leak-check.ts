// Runs around every test file (vitest setupFiles): whatever kernel resources the file's tests
// left behind in this process fail the file, listed by kind (see test/leaks.ts).
import { afterAll } from 'vitest';
import { leaksSince, snapshot } from '../leaks.js';

// Taken when this setup file runs, before the test file is imported (so objects its top level
// creates count too).
const before = snapshot();

// Registered first, so it runs after the file's own afterAll hooks (vitest runs after-hooks as a stack).
afterAll(() => {
  const leaks = leaksSince(before);
  if (leaks.length) throw new Error(`this test file left kernel resources behind:\n  ${leaks.join('\n  ')}`);
});
