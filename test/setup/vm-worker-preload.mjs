// The VM suite's worker (vitest.vm.config.ts): preloaded with --import before vitest's own worker
// entry runs. It evaluates that entry here (the main module's import is then a cache hit) and
// tells the parent it is up, so the parent's 60 s wall-clock wait for the worker's answer (fixed
// in vitest) starts once Node and vitest's modules are loaded: under QEMU's TCG on a loaded host
// that alone can take longer than 60 s.
await import(process.env.BEE_VM_WORKER_ENTRY);
process.send?.({ beeVmWorkerUp: true });
