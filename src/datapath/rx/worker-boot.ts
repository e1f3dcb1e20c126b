// Starting a worker thread that runs TypeScript: the worker registers tsx
// itself (an --import in execArgv is not always honoured in workers) and
// then imports the module. tsx is resolved from here, so the daemon's
// working directory does not matter.

import { Worker, type WorkerOptions } from 'node:worker_threads';

const TSX_API = import.meta.resolve('tsx/esm/api');

export function startTsWorker(moduleUrl: string, opts: WorkerOptions): Worker {
  const boot = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}
