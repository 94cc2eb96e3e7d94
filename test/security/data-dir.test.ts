// The data dir holds the gateway's keys and store: it is 0700 from the moment it exists,
// whatever the umask, and an existing one that others may read is tightened with a warning.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { localPostgres } from '../helpers/gateway.ts';

const root = mkdtempSync(join(tmpdir(), 'warden-datadir-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function startOn(dataDir: string): Promise<string[]> {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
  const config = parseConfig({ gateway: { dataDir, listen: { http: '127.0.0.1:0', postgres: null } }, connections: [localPostgres('x')] });
  const gw = await startGateway(config, { log });
  await gw.close();
  return lines;
}

const modeOf = (p: string) => statSync(p).mode & 0o777;

test('a new data dir is 0700 under the usual umask, before any file is in it', async () => {
  const old = process.umask(0o022);
  try {
    const dir = join(root, 'fresh', 'data');
    await startOn(dir);
    assert.equal(modeOf(dir).toString(8), '700');
  } finally {
    process.umask(old);
  }
});

test('an existing data dir others may read is tightened to 0700, with a warning', async () => {
  const dir = join(root, 'loose');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const lines = await startOn(dir);
  assert.equal(modeOf(dir).toString(8), '700');
  assert.ok(lines.some((l) => /was mode 0755; tightened to 0700/.test(l)), lines.join(''));
});
