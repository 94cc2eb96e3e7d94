// A worker thread running one of Warden's own modules: the compiled .js next to the caller
// in dist/, or the TypeScript source when the gateway runs from src/ (tests, a checkout
// without a build). tsx's loader, registered in code by bin/warden.js, is not inherited
// by a worker thread: the thread registers it first.
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `name`: the module's file name without its extension, beside `callerUrl` (the caller's import.meta.url). */
export function startThread(callerUrl: string, name: string, workerData: unknown): Worker {
  const ext = extname(fileURLToPath(callerUrl));
  const target = new URL(`./${name}${ext}`, callerUrl);
  if (ext !== '.ts') return new Worker(target, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot =
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })` +
    `.catch((e) => { console.error(e); process.exit(70); });`;
  // execArgv [] so a parent started with `--import tsx` does not register it twice.
  return new Worker(boot, { eval: true, workerData, execArgv: [] });
}
