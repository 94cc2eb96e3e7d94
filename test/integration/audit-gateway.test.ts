// The audit settings of a whole gateway (gateway.audit): a pinned public key, a
// directory sink and an HTTP sink that is down. Sessions go on, heads reach the
// directory, the failed sends show in /metrics, the API's verify holds the chain to the
// pinned key, and a gateway whose data dir key is not the pinned one does not start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { psql } from '../helpers/clients.ts';
import { freePort } from '../helpers/free-port.ts';

const dir = mkdtempSync(join(tmpdir(), 'warden-audit-gw-'));
const sink = join(dir, 'archive');
let downUrl = '';
let publicPem = '';
let t: TestGateway;

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { priv: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

before(async () => {
  mkdirSync(sink);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  const k = keyPair();
  writeFileSync(join(dataDir, 'audit-key.pem'), k.priv, { mode: 0o600 });
  publicPem = k.pub;
  downUrl = `http://127.0.0.1:${await freePort()}/heads`;
  t = await startTestGateway({
    connections: [localPostgres('auditdb')],
    gateway: { dataDir, audit: { publicKey: k.pub, sinks: [{ dir: sink }, { url: downUrl }] } },
  });
});
after(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  return { status: r.status, text: await r.text() };
}

test('sessions go on with a sink down; heads reach the directory; /metrics counts both', async () => {
  const token = await t.token(['dev'], 'audited');
  const r = await psql(t.pgPort, 'auditdb', token, ['-A', '-t', '-c', 'SELECT 6 * 7']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '42');
  const sinkLine = /warden_audit_heads_shipped_total\{sink="dir:[^"]+",outcome="ok"\} (\d+)/;
  const downLine = new RegExp(`warden_audit_heads_shipped_total\\{sink="http:${downUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}",outcome="failed"\\} (\\d+)`);
  for (let i = 0; ; i++) {
    const m = (await get('/metrics')).text;
    if (sinkLine.test(m) && downLine.test(m)) break;
    if (i > 300) assert.fail(`metrics never showed both sinks:\n${m}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  const lines = readFileSync(join(sink, 'audit-heads.jsonl'), 'utf8').trim().split('\n');
  assert.ok(lines.length >= 1);
  assert.match(lines[0]!, /^\{"n":\d+,"seq":\d+,"hash":"[0-9a-f]{64}"/);
});

test('the API verifies against the pinned key', async () => {
  const v = await get('/api/v1/audit/verify');
  assert.equal(v.status, 200);
  const r = JSON.parse(v.text) as { ok: boolean; keyPinned: boolean; heads: number; problem?: string };
  assert.equal(r.ok, true, r.problem);
  assert.equal(r.keyPinned, true);
  assert.ok(r.heads >= 2);
});

test('a gateway whose data dir key is not the pinned key refuses to start, naming the key', async () => {
  const other = join(dir, 'other');
  const config = parseConfig({
    gateway: { dataDir: other, listen: { http: '127.0.0.1:0', postgres: null }, logLevel: 'silent', audit: { publicKey: publicPem } },
  });
  // The data dir gets a key of its own on first start: not the pinned one.
  await assert.rejects(startGateway(config, { log: pino({ level: 'silent' }) }), /gateway\.audit\.publicKey: the audit key in .* is not the pinned public key/);
});
