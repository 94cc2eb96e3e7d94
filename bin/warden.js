#!/usr/bin/env node
// The `warden` binary. It runs the compiled tree in dist/ (made by `npm install`
// through the prepare script: plain JavaScript, less memory, faster start) when dist/
// is at least as new as every source file; otherwise it runs the TypeScript sources
// through tsx, so an edit never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';

// Node 24's process.exit can deadlock for good (nodejs/node#54918): a concurrent Sparkplug
// job waits for a garbage collection that the exiting main thread never runs, and the
// process hangs with SIGTERM unheard. Measured with `warden agent` refused by a gateway
// (8 at a time): 15 of 120 exits hung; with Sparkplug compiling on the main thread, set
// here before any function is hot enough to be batched, 0 of 120.
setFlagsFromString('--no-concurrent-sparkplug');

// npm install brings Node 24 (node_modules/.bin/node, first on the PATH of npm scripts
// and npx); a system node run directly may be older and would fail later, less clearly.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 16)) {
  console.error(`warden: Node.js 22.16 or newer is needed, this is ${process.version} (${process.execPath}); run it through npm (npm start, npx warden) to use the Node 24 that npm install brought`);
  process.exit(1);
}

// Memory, measured with heaptrack on a 1,000,000-row SELECT (npm run bench:pg-large):
// - V8 recompiles hot WebAssembly functions (the Postgres parser) with TurboFan on
//   background threads; those compiles took ~80 MB of zone memory, which glibc's
//   per-thread arenas then kept: +90 MB RSS for good. Liftoff (the baseline compiler)
//   alone costs ~15% on a cold parse of a large statement; parses are cached anyway.
// - The young generation grew from 1 MB to 16 MB semispaces while modules loaded and
//   never gave it back: 20 MB of RSS, with no measurable gain in pgbench throughput.
// On Node 24 (V8 13.6) --liftoff-only set at run time (v8.setFlagsFromString) no longer
// holds: the gateway peaked at 680-740 MB in that run; given on the command line it
// stays at ~140 MB. So `start` replaces its process (process.execve: same pid, stdio and
// environment) with one given the flags, unless it has them.
// The other commands no longer set them at run time: a heap flag changed under a running
// isolate is unsupported, and these processes are short-lived.
const V8_FLAGS = ['--liftoff-only', '--semi-space-growth-factor=1'];
if (process.argv[2] === 'start' && typeof process.execve === 'function' && !V8_FLAGS.every((f) => process.execArgv.includes(f))) {
  process.execve(process.execPath, [process.execPath, ...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)], process.env);
}

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.built');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const fresh = process.env.WARDEN_FROM_SOURCE !== '1' && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(join(root, 'src'));
if (fresh) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
