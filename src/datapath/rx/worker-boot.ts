// Starting a worker thread on one of our modules, named by its .ts URL
// (`new URL('./pmd-worker.ts', import.meta.url)`), in the form the main
// program runs in:
// - compiled (this file is dist/.../worker-boot.js, see bin/launch.js): the
//   worker runs the compiled neighbour, `pmd-worker.js`, directly;
// - from the sources: the worker registers tsx itself (an --import in
//   execArgv is not always honoured in workers) and then imports the .ts
//   module. tsx is resolved from here, so the daemon's working directory
//   does not matter.

import { Worker, type WorkerOptions } from 'node:worker_threads';

const COMPILED = import.meta.url.endsWith('.js');

export function startTsWorker(moduleUrl: string, opts: WorkerOptions): Worker {
  if (COMPILED) return new Worker(new URL(moduleUrl.replace(/\.ts$/, '.js')), opts);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}
