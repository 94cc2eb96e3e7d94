// `warden sessions list --command <glob>` and GET /api/v1/sessions?command=: the sessions in
// which a matching command ran, over SQL (psql through the gateway), HTTP (the proxy) and
// SSH (exec, and a pty shell's typed lines), on a SQLite and a Postgres store. Each hit
// names its command and time; `sessions show --from` replays from there, and --play starts
// the shell's terminal recording at the hit's marker. `%` and `_` in a glob are no wildcards.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';
import { startLocalHttp, type LocalHttp } from '../helpers/local-http.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { psql, run } from '../helpers/clients.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/warden.js');
let sshd: TestSshd;
let target: LocalHttp;
let work: string;

before(async () => {
  sshd = await startSshd();
  target = await startLocalHttp(() => ({ json: { ok: true } }));
  work = mkdtempSync(join(tmpdir(), 'warden-search-'));
});
after(async () => {
  await target?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

const connections = () => [
  localPostgres('db'),
  { name: 'api', type: 'http', url: target.url, credential: { header: 'x-api-key', value: 'upstream-key' }, access: { groups: ['dev'] } },
  { name: 'box', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, access: { groups: ['dev'] } },
];

interface Hit { id: string; protocol: string; identityName: string; matches: { commandId: string; text: string; offsetMs: number; decision: string; via?: string; seq: number }[] }

async function api(t: TestGateway, query: Record<string, string>, token = t.adminToken): Promise<{ status: number; body: unknown; next: string | null }> {
  const r = await fetch(`${t.httpUrl}/api/v1/sessions?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json(), next: r.headers.get('x-next-before') };
}

const warden = (t: TestGateway, args: string[]) => run(process.execPath, [BIN, ...args, '--gateway', t.httpUrl], { env: { WARDEN_TOKEN: t.adminToken }, timeoutMs: 60_000 });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`command search, ${kind} store`, () => {
    let t: TestGateway;
    const storeDb = `warden_search_${randomBytes(4).toString('hex')}`;
    before(async () => {
      if (kind === 'postgres') await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `CREATE DATABASE ${storeDb}`]);
      t = await startTestGateway({ connections: connections(), ...(kind === 'postgres' ? { gateway: { store: `postgres://postgres@127.0.0.1:5432/${storeDb}` } } : {}) });
    });
    after(async () => {
      await t?.close();
      if (kind === 'postgres') await run('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${storeDb} WITH (FORCE)`]);
    });

    test('SQL, HTTP and SSH commands are found by glob, through the API and the CLI', async () => {
      const tok = await t.token(['dev'], 'searcher');
      assert.equal((await psql(t.pgPort, 'db', tok, ['-A', '-t', '-c', 'SELECT 1 AS "100%_sure"'])).code, 0);
      // look-alikes that a LIKE with unescaped % and _ would find
      assert.equal((await psql(t.pgPort, 'db', tok, ['-A', '-t', '-c', 'SELECT 2 AS "1000xsure"'])).code, 0);
      assert.equal((await psql(t.pgPort, 'db', tok, ['-A', '-t', '-c', 'select 3 as "100%_sure"'])).code, 0);
      const h = await fetch(`${t.httpUrl}/proxy/api/v1/widgets/abc_def`, { headers: { authorization: `Bearer ${tok}` } });
      assert.equal(h.status, 200);
      const s = await run('ssh', [...sshArgs(t.sshPort), 'box@127.0.0.1', '/bin/echo needle_42'], { env: askpass(work, tok), timeoutMs: 30_000 });
      assert.equal(s.stdout, 'needle_42\n', s.stderr);
      await t.gw.services.audit.flush();

      const sql = await api(t, { command: '*100%_sure*' });
      assert.equal(sql.status, 200);
      const hits = sql.body as Hit[];
      assert.deepEqual(hits.map((x) => x.matches.map((m) => m.text)), [['select 3 as "100%_sure"'], ['SELECT 1 AS "100%_sure"']], 'newest first; the look-alike 1000xsure is not there');
      const m = hits[1]!.matches[0]!;
      assert.equal(hits[1]!.protocol, 'postgres');
      assert.match(m.commandId, new RegExp(`^${hits[1]!.id}:\\d+$`));
      assert.ok(m.offsetMs >= 0 && m.offsetMs < 60_000);
      assert.equal(m.decision, 'allow');
      // case-sensitive, as rules are (SQLite's LIKE alone would also return the lower-case one)
      assert.deepEqual(((await api(t, { command: 'SELECT *100%*' })).body as Hit[]).map((x) => x.matches[0]!.text), ['SELECT 1 AS "100%_sure"']);
      // a glob of LIKE's wildcards matches only those characters
      assert.deepEqual((await api(t, { command: '%' })).body, []);
      assert.deepEqual((await api(t, { command: '_*' })).body, []);

      const http = (await api(t, { command: 'GET /v1/widgets/*' })).body as Hit[];
      assert.deepEqual(http.map((x) => [x.protocol, x.matches[0]!.text]), [['http', 'GET /v1/widgets/abc_def']]);
      // a program named by its path matches by its base name, as `commands:` rules read it
      const ssh = (await api(t, { command: 'echo needle*' })).body as Hit[];
      assert.deepEqual(ssh.map((x) => [x.protocol, x.matches[0]!.text, x.matches[0]!.via]), [['ssh', '/bin/echo needle_42', 'exec']]);
      assert.deepEqual((await api(t, { command: 'echo needle*', connection: 'db' })).body, [], 'the connection filter holds');

      const cli = await warden(t, ['sessions', 'list', '--command', '*100%_sure*', '--json']);
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual((JSON.parse(cli.stdout) as Hit[]).map((x) => x.id), hits.map((x) => x.id));
      const text = await warden(t, ['sessions', 'list', '--command', 'GET /v1/widgets/*']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`${http[0]!.id}\\s+api\\s+http\\s+searcher\\s+\\+\\d+\\.\\ds\\s+${http[0]!.matches[0]!.commandId}\\s+allow\\s+GET /v1/widgets/abc_def`));
      assert.match(text.stdout, /warden sessions show <session> --from <command>/);
    });

    test('pages: limit counts sessions, x-next-before continues, every session once', async () => {
      const tok = await t.token(['dev'], 'pager');
      for (let i = 0; i < 3; i++) assert.equal((await psql(t.pgPort, 'db', tok, ['-A', '-t', '-c', `SELECT ${i} AS pager_${i}`])).code, 0);
      await t.gw.services.audit.flush();
      const seen: string[] = [];
      let before: string | null = null;
      for (let n = 0; n < 10; n++) {
        const p = await api(t, { command: 'SELECT * AS pager_*', limit: '1', ...(before ? { before } : {}) });
        assert.equal(p.status, 200);
        seen.push(...(p.body as Hit[]).map((x) => x.matches[0]!.text));
        before = p.next;
        if (!before) break;
      }
      assert.deepEqual(seen, ['SELECT 2 AS pager_2', 'SELECT 1 AS pager_1', 'SELECT 0 AS pager_0']);
      const cli = await warden(t, ['sessions', 'list', '--command', 'SELECT * AS pager_*', '--limit', '2', '--json']);
      assert.deepEqual((JSON.parse(cli.stdout) as Hit[]).map((x) => x.matches[0]!.text), ['SELECT 2 AS pager_2', 'SELECT 1 AS pager_1']);
    });

    test('refused: no auditor role, an empty glob, a bad cursor', async () => {
      const tok = await t.token(['dev'], 'nosy');
      assert.equal((await api(t, { command: '*' }, tok)).status, 403);
      assert.equal((await api(t, { command: '' })).status, 400);
      assert.equal((await api(t, { command: '*', before: '1; DROP TABLE events' })).status, 400);
      assert.equal((await api(t, { before: '5' })).status, 400);
    });
  });
}

describe('an SSH shell: hits on typed lines, replay --from and --play --from', () => {
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({ connections: connections() });
  });
  after(() => t?.close());

  test('a typed line is found; --from starts the replay and the terminal there', async () => {
    const tok = await t.token(['dev'], 'typist');
    const child = spawn('ssh', [...sshArgs(t.sshPort), '-tt', 'box@127.0.0.1'], { env: { ...process.env, ...askpass(work, tok) } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    const lines = ['echo first_line', 'echo marked_line_77', 'exit'];
    let i = 0;
    await new Promise<void>((resolve) => {
      const next = () => {
        if (i < lines.length && /[$#] $/.test(out)) {
          child.stdin.write(`${lines[i++]}\n`);
          out += '\u0000';
        }
        if (child.exitCode === null) setTimeout(next, 50);
      };
      child.on('close', () => resolve());
      next();
    });
    await t.gw.services.audit.flush();
    const hits = (await api(t, { command: 'echo marked_line_*' })).body as Hit[];
    assert.equal(hits.length, 1);
    const hit = hits[0]!.matches[0]!;
    assert.equal(hit.via, 'shell-line');
    const id = hits[0]!.id;

    // the text replay from the hit holds it and what follows, not what came before
    const from = await warden(t, ['sessions', 'show', id, '--from', hit.commandId]);
    assert.equal(from.code, 0, from.stderr);
    assert.match(from.stdout, /echo marked_line_77/);
    assert.doesNotMatch(from.stdout, /echo first_line/);
    assert.match((await warden(t, ['sessions', 'show', id, '--from', '#1'])).stdout, /\(shell\)[\s\S]*echo first_line/);

    // the recording marks each command, so the terminal starts at the hit
    const detail = (await (await fetch(`${t.httpUrl}/api/v1/sessions/${id}`, { headers: { authorization: `Bearer ${t.adminToken}` } })).json()) as { events: { type: string; data: { rows?: string[][] } }[] };
    const cast = detail.events.find((e) => e.type === 'result' && e.data.rows?.[0]?.[0] === 'recording')!.data.rows![0]![1]!;
    const markers = readFileSync(cast, 'utf8').split('\n').filter(Boolean).slice(1).map((l) => JSON.parse(l) as [number, string, string]).filter((e) => e[1] === 'm').map((e) => e[2]);
    assert.deepEqual(markers, [`${id}:1`, `${id}:2`, hit.commandId, `${id}:4`]);
    const play = await warden(t, ['sessions', 'show', id, '--play', '--from', hit.commandId]);
    assert.equal(play.code, 0, play.stderr);
    assert.match(play.stdout, /marked_line_77/);
    const bad = await warden(t, ['sessions', 'show', id, '--play', '--from', `${id}:99`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /no command/);
    const other = await warden(t, ['sessions', 'show', id, '--from', 'someone-else:1']);
    assert.match(other.stderr, /not of session/);
  });
});
