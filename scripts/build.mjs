#!/usr/bin/env node
// Compile src/ to dist/ and stamp it; bin/warden.js runs dist/ only while the stamp is
// newer than every source file. Run by `npm install` (prepare): when the compiler is
// missing or fails, the install goes on and bin/warden.js runs the sources with tsx.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const tsc = `${root}node_modules/typescript/bin/tsc`;
const strict = process.argv.includes('--strict');
rmSync(`${root}dist`, { recursive: true, force: true });
try {
  if (!existsSync(tsc)) throw new Error('typescript is not installed');
  execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
  writeFileSync(`${root}dist/.built`, new Date().toISOString() + '\n');
} catch (e) {
  rmSync(`${root}dist`, { recursive: true, force: true });
  if (strict) throw e;
  console.warn(`warden: not compiled (${e.message.split('\n')[0]}); bin/warden.js will run the TypeScript sources`);
}
