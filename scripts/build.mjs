#!/usr/bin/env node
// Compile src/ to dist/ and stamp it; bin/warden.js runs dist/ only while the stamp is
// newer than every source file. Run by `npm install` (prepare): when the compiler is
// missing or fails, the install goes on and bin/warden.js runs the sources with tsx.
//
// A fresh dist/ is left alone: `npx warden` in this folder runs prepare again, and a
// rebuild then took 30 s and, worse, deleted dist/ under every warden process starting
// from it (seen in CI: "Cannot find module dist/cli/audit.js"). A rebuild compiles
// beside dist/ and swaps the finished tree in, so dist/ is never half written.
//
// The web console (web/, React + Vite) is built the same way into web/dist, which the
// gateway serves at / (src/gateway/console-static.ts); it has its own stamp and inputs.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tsc = `${root}node_modules/typescript/bin/tsc`;
const strict = process.argv.includes('--strict');
const force = strict || process.argv.includes('--force');
const dist = join(root, 'dist');
const stamp = join(dist, '.built');

function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((n) => newest(join(path, n))));
}

const fresh = (stampFile, paths) => {
  const inputs = paths.map((p) => join(root, p)).filter(existsSync);
  return !force && existsSync(stampFile) && statSync(stampFile).mtimeMs >= Math.max(...inputs.map(newest));
};

buildConsole();
if (fresh(stamp, ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])) process.exit(0);

/** web/ -> web/dist with Vite; without Vite (a production install) the gateway says how to build it. */
function buildConsole() {
  const web = join(root, 'web');
  const out = join(web, 'dist');
  const vite = join(root, 'node_modules/vite/bin/vite.js');
  if (!existsSync(join(web, 'index.html')) || fresh(join(out, '.built'), ['web/src', 'web/index.html', 'web/vite.config.ts', 'package-lock.json'])) return;
  const next = join(web, `.dist-${process.pid}`);
  const old = join(web, `.dist-old-${process.pid}`);
  try {
    if (!existsSync(vite)) throw new Error('vite is not installed');
    execFileSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts'), '--outDir', next, '--emptyOutDir'], { cwd: web, stdio: 'inherit' });
    writeFileSync(join(next, '.built'), new Date().toISOString() + '\n');
    if (existsSync(out)) renameSync(out, old);
    renameSync(next, out);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(next, { recursive: true, force: true });
    if (strict) throw e;
    console.warn(`warden: web console not built (${e.message.split('\n')[0]}); the gateway serves a notice at /`);
  }
}

const next = join(root, `.dist-${process.pid}`);
const old = join(root, `.dist-old-${process.pid}`);
try {
  if (!existsSync(tsc)) throw new Error('typescript is not installed');
  execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`, '--outDir', next], { stdio: 'inherit' });
  await vendor(next);
  writeFileSync(join(next, '.built'), new Date().toISOString() + '\n');
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
} catch (e) {
  rmSync(next, { recursive: true, force: true });
  if (strict) throw e;
  rmSync(dist, { recursive: true, force: true });
  console.warn(`warden: not compiled (${e.message.split('\n')[0]}); bin/warden.js will run the TypeScript sources`);
}

// The packages every CLI command loads, bundled into dist/vendor/ (one file each, shared code
// in chunks): Node's module loader spends ~0.5 ms of CPU per file it resolves and reads, and
// kysely alone is ~250 files, zod ~95, yaml ~70, jose ~45 (`warden token create` went from
// ~500 files to ~90; npm run bench:cli). The compiled files' imports of them are rewritten to
// the bundles; the sources (tests, tsx) keep importing the packages.
async function vendor(out) {
  const entries = {
    kysely: 'export * from "kysely";',
    'kysely-migration': 'export * from "kysely/migration";',
    zod: 'export * from "zod";',
    jose: 'export * from "jose";',
    // CommonJS packages: their names are listed (a bundle of `export *` from CommonJS has none)
    yaml: 'export { parse, parseDocument, stringify, isMap, isSeq, isScalar, isPair, YAMLParseError, LineCounter } from "yaml";',
    commander: 'export { Command, Option, Argument, CommanderError, InvalidArgumentError, Help, program, createCommand } from "commander";',
  };
  const specifiers = { kysely: 'kysely', 'kysely/migration': 'kysely-migration', zod: 'zod', jose: 'jose', yaml: 'yaml', commander: 'commander' };
  const dir = join(out, 'vendor');
  const { build } = await import('esbuild');
  await build({
    entryPoints: Object.keys(entries).map((name) => ({ in: `vendor:${name}`, out: name })),
    plugins: [{ name: 'vendor', setup(b) {
      b.onResolve({ filter: /^vendor:/ }, (a) => ({ path: a.path.slice(7), namespace: 'vendor' }));
      b.onLoad({ filter: /.*/, namespace: 'vendor' }, (a) => ({ contents: entries[a.path], resolveDir: root, loader: 'js' }));
    } }],
    bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node22', outdir: dir, logLevel: 'warning',
    // a CommonJS package bundled into ESM asks for Node's built-ins through require
    banner: { js: 'import { createRequire as __wardenRequire } from "node:module"; const require = __wardenRequire(import.meta.url);' },
  });
  // V8 keeps every module's source text for the process's life, as a one-byte string only
  // while each character fits in Latin-1. esbuild escapes non-ASCII in code but keeps
  // comments as written, and one em dash in a comment made zod's bundle (760 KB) and
  // kysely's (470 KB) two-byte strings: 1.2 MB more heap in every process. Comments are
  // all that can hold such a character here, so escaping it changes nothing else.
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js')) continue;
    const p = join(dir, name);
    const src = readFileSync(p, 'utf8');
    const ascii = src.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (ascii !== src) writeFileSync(p, ascii);
  }
  const re = /((?:from|import)\s*\(?\s*)(['"])(kysely\/migration|kysely|zod|jose|yaml|commander)\2/g;
  const rewrite = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (p !== dir) rewrite(p);
        continue;
      }
      if (!e.name.endsWith('.js')) continue;
      const src = readFileSync(p, 'utf8');
      const to = (name) => {
        const r = relative(dirname(p), join(dir, `${specifiers[name]}.js`));
        return r.startsWith('.') ? r : `./${r}`;
      };
      const next = src.replace(re, (_m, lead, q, name) => `${lead}${q}${to(name)}${q}`);
      // another entry of a bundled package (`kysely/helpers/postgres`) would load a second
      // copy of it beside the bundle: add it to `entries` instead
      const other = /(?:from|import)\s*\(?\s*['"]((?:kysely|zod|jose|yaml|commander)\/[^'"]*)['"]/.exec(next);
      if (other) throw new Error(`${relative(out, p)} imports ${other[1]}, which dist/vendor does not bundle: add it to vendor() in scripts/build.mjs`);
      if (next !== src) writeFileSync(p, next);
    }
  };
  rewrite(out);
}
