// The `warden` binary as a user runs it: start on the embedded default with the demo,
// tokens for scripts, the replay, audit verification (and its failure on tampering),
// and config errors that name the key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { run, psql } from '../helpers/clients.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/warden.js');
const dir = mkdtempSync(join(tmpdir(), 'warden-cli-'));
const cfg = join(dir, 'warden.yaml');
let gateway: ChildProcess;
let banner = '';
let pgPort = 0;

const warden = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [BIN, ...args], { env, timeoutMs: 60_000 });

before(async () => {
  writeFileSync(cfg, ['gateway:', `  dataDir: ${join(dir, 'data')}`, '  listen:', '    http: 127.0.0.1:0', '    postgres: 127.0.0.1:0', '  logLevel: warn', ''].join('\n'));
  gateway = spawn(process.execPath, [BIN, 'start', '--config', cfg, '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    gateway.stdout!.on('data', (d) => {
      banner += d;
      if (banner.includes('claude mcp add')) resolve();
    });
    gateway.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${banner}`)));
  });
  pgPort = Number(/Postgres\s+127\.0\.0\.1:(\d+)/.exec(banner)![1]);
});
after(async () => {
  if (gateway.exitCode === null) {
    gateway.kill('SIGINT');
    await new Promise((r) => gateway.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('start prints how to connect, with a one-time admin token', () => {
  assert.match(banner, /Warden gateway ready/);
  assert.match(banner, /First start: an admin token was created[^\n]*\n\s+wdn_[A-Za-z0-9_-]{40,}/);
  assert.match(banner, /psql "host=127\.0\.0\.1 port=\d+ user=demo dbname=demo password=\$\(npx warden token create --config \S+ --name [A-Za-z0-9._-]+ --groups demo --ttl 8h\)"/);
  assert.match(banner, /claude mcp add --transport http warden http:\/\/127\.0\.0\.1:\d+\/mcp --header "Authorization: Bearer \$\(npx warden token create --config \S+ --name agent --groups demo --ttl 8h\)"/);
});

test('the printed psql line works pasted as printed, in a shell with no $USER', async () => {
  const line = /^\s+(psql "host=.*")$/m.exec(banner)![1]!;
  const r = await run('env', ['-u', 'USER', '-u', 'PGPASSWORD', 'sh', '-c', `${line} -X -A -t -c 'SELECT count(*) FROM customers'`], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '24');
});

test('the printed MCP line works pasted as printed, in a shell with no $USER: its token opens the API', async () => {
  const line = /^\s+(claude mcp add .*)$/m.exec(banner)![1]!;
  // `claude` itself is not on this machine: a shell function shows the words it would get
  const r = await run('env', ['-u', 'USER', 'sh', '-c', `claude() { printf '%s\\n' "$@"; }; ${line}`], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const words = r.stdout.split('\n');
  assert.deepEqual(words.slice(0, 5), ['mcp', 'add', '--transport', 'http', 'warden']);
  const header = words.find((w) => w.startsWith('Authorization: Bearer '))!;
  assert.match(header, /^Authorization: Bearer wdn_[A-Za-z0-9_-]+$/);
  const httpUrl = /HTTP API\s+(http:\/\/\S+)\/api\/v1/.exec(banner)![1]!;
  const who = await fetch(`${httpUrl}/api/v1/whoami`, { headers: { authorization: header.slice('Authorization: '.length) } });
  assert.equal(who.status, 200);
  assert.deepEqual(((await who.json()) as { groups: string[] }).groups, ['demo']);
});

test('token create prints the token alone; psql reaches the demo data; the replay shows it', async () => {
  const t = await warden(['token', 'create', '--config', cfg, '--name', 'ci-bot', '--groups', 'demo', '--ttl', '1h']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^wdn_[A-Za-z0-9_-]+\n$/);
  const token = t.stdout.trim();
  const q = await psql(pgPort, 'demo', token, ['-A', '-t', '-c', 'SELECT count(*) FROM customers', '-c', 'SELECT email FROM customers ORDER BY id LIMIT 1']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stdout.trim(), '24\n[EMAIL]', 'the demo target\'s personal data arrives masked');

  const list = await warden(['sessions', 'list', '--config', cfg, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const sessions = JSON.parse(list.stdout) as { id: string; identityName: string; connection: string }[];
  const mine = sessions.find((s) => s.identityName === 'ci-bot');
  assert.ok(mine, list.stdout);
  assert.equal(mine.connection, 'demo');

  const show = await warden(['sessions', 'show', mine.id, '--config', cfg]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /#1 \S+\s+ci-bot\s+ALLOW\n\s+SELECT count\(\*\) FROM customers\n\s+-> SELECT 1\s+\(1 rows/);
  assert.match(show.stdout, /#2 .*\n\s+SELECT email FROM customers ORDER BY id LIMIT 1/);
  const json = JSON.parse((await warden(['sessions', 'show', mine.id, '--config', cfg, '--json'])).stdout) as { events: { type: string }[] };
  assert.deepEqual(json.events.map((e) => e.type), ['session.start', 'command', 'result', 'command', 'result', 'session.end']);

  const human = await warden(['sessions', 'list', '--config', cfg]);
  assert.match(human.stdout, /^ID\s+CONNECTION\s+PROTOCOL/);
});

test('connections list (local) shows the configured connections and never their credentials', async () => {
  const other = join(dir, 'with-conn.yaml');
  writeFileSync(other, ['gateway:', `  dataDir: ${join(dir, 'data2')}`, 'connections:', '  - name: app-db', '    type: postgres', '    password: hunter2-secret', '    access: { groups: [eng] }', ''].join('\n'));
  const r = await warden(['connections', 'list', '--config', other, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const conns = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.deepEqual(conns.map((c) => [c.name, c.type, c.groups]), [['app-db', 'postgres', ['eng']]]);
  assert.doesNotMatch(r.stdout, /hunter2|password/);
  const human = await warden(['connections', 'list', '--config', other]);
  assert.match(human.stdout, /^NAME\s+TYPE/);
  assert.doesNotMatch(human.stdout, /hunter2/);
});

test('the CLI talks to a running gateway with --gateway and WARDEN_TOKEN', async () => {
  const admin = /\n\s+(wdn_[A-Za-z0-9_-]+)/.exec(banner)![1]!;
  const httpUrl = /HTTP API\s+(http:\/\/\S+)\/api\/v1/.exec(banner)![1]!;
  // `npm start` prints the web console's URL, and the console answers there
  assert.match(banner, new RegExp(`Console\\s+${httpUrl}/\\s`));
  assert.match(await (await fetch(`${httpUrl}/`)).text(), /<div id="root">/);
  const conns = await warden(['connections', 'list', '--gateway', httpUrl, '--json'], { WARDEN_TOKEN: admin });
  assert.equal(conns.code, 0, conns.stderr);
  assert.deepEqual((JSON.parse(conns.stdout) as { name: string }[]).map((c) => c.name), ['demo']);
  const tok = await warden(['token', 'create', '--name', 'remote', '--groups', 'demo'], { WARDEN_GATEWAY: httpUrl, WARDEN_TOKEN: admin });
  assert.match(tok.stdout, /^wdn_\S+\n$/);
  const denied = await warden(['sessions', 'list', '--gateway', httpUrl], { WARDEN_TOKEN: tok.stdout.trim() });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /403: auditor role required/);
  const verify = await warden(['audit', 'verify', '--gateway', httpUrl], { WARDEN_TOKEN: admin });
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, /audit log intact: \d+ events/);
});

test('Ctrl-C shuts down cleanly; audit verify exits 0 when intact and names the first changed event after tampering', async () => {
  gateway.kill('SIGINT');
  const code = await new Promise((r) => gateway.once('exit', (c) => r(c)));
  assert.equal(code, 0);
  const ok = await warden(['audit', 'verify', '--config', cfg]);
  assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  assert.match(ok.stdout, /audit log intact: \d+ events \(last seq \d+\), \d+ signed heads \(newest #\d+, close, /);
  const db = new DatabaseSync(join(dir, 'data', 'warden.db'));
  const victim = db.prepare(`SELECT seq FROM events WHERE type = 'command' ORDER BY seq LIMIT 1`).get() as unknown as { seq: number };
  db.prepare(`UPDATE events SET data = replace(data, 'customers', 'customerz') WHERE seq = ?`).run(victim.seq);
  db.close();
  const bad = await warden(['audit', 'verify', '--config', cfg]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`audit log BROKEN: .*\\b${victim.seq}\\b`));
});

test('a bad config is refused at start with each key path and reason', async () => {
  const badCfg = join(dir, 'bad.yaml');
  writeFileSync(badCfg, 'gateway:\n  recording:\n    mode: sometimes\nconnections:\n  - name: x\n    type: postgres\n    port: nope\n');
  const r = await warden(['start', '--config', badCfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gateway\.recording\.mode: Invalid option/);
  assert.match(r.stderr, /connections\.0\.port: Invalid input: expected number, received string/);
});
