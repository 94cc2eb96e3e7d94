// Exec connections: a command template run by the agent with credentials injected, with real
// CLIs (psql against the machine's Postgres, git, kubectl's client-side commands), through the
// embedded agent and a remote `warden agent` process. Ground truth is on the machine: marker
// files a refused command would have created, the process a departed caller leaves behind,
// and the record (what the caller was never shown is not in it either).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { run } from '../helpers/clients.ts';
import { recordedFor } from '../helpers/records.ts';
import { BIN, spawnAgent, eventually, type AgentProcess } from './agent-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'warden-execconn-'));
const home = join(dir, 'home');
const APPNAME = 'warden-exec-appname-7d1f';
const PGPASS = 'pg-password-Secret-91a4c';
const KUBE_TOKEN = 'kubetoken-Secret-0123456789abcdef';
const LEAK = 'gateway-own-secret-5e2b';
const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: test
  context:
    cluster: test
    user: tester
current-context: test
users:
- name: tester
  user:
    token: ${KUBE_TOKEN}
`;

// the same connections through the embedded agent and through the remote agent "edge"
const connections = (agent: string, sfx: string) => [
  {
    name: `psql${sfx}`, type: 'exec', agent, command: ['psql', '-X', '-A', '-t', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres'],
    env: { PGPASSWORD: PGPASS, PGAPPNAME: APPNAME }, access: { groups: ['dev'] },
    rules: [{ name: 'psql-c', match: { commands: ['psql -c *'] }, action: 'allow' }],
  },
  { name: `git${sfx}`, type: 'exec', agent, command: ['git'], access: { groups: ['dev'] } },
  {
    name: `kube${sfx}`, type: 'exec', agent, command: ['kubectl', '--kubeconfig', '${credentialFile:kubeconfig}'],
    files: { kubeconfig }, access: { groups: ['dev'] },
  },
  {
    name: `sh${sfx}`, type: 'exec', agent, command: ['sh', '-c'], env: { SECRET_TOKEN: PGPASS }, plainEnv: { SHOWN: 'plain-value' }, timeout: '2s', access: { groups: ['dev'] },
    rules: [{ name: 'sh', match: { commands: ['sh *'] }, action: 'allow' }],
  },
  {
    // 64 MB of output in 1000 writes, counting them in the file named by the caller's argument
    name: `flood${sfx}`, type: 'exec', agent, masking: { enabled: false }, access: { groups: ['dev'] }, onUnknown: 'allow',
    command: ['sh', '-c', 'i=0; while [ $i -lt 1000 ]; do head -c 65536 /dev/zero; i=$((i+1)); echo $i > "$0"; done'],
  },
  {
    // the caller's argument is the pid file; the script is the admin's
    name: `sleeper${sfx}`, type: 'exec', agent, command: ['sh', '-c', 'echo $$ > "$0"; echo started; exec sleep 60'], access: { groups: ['dev'] },
    rules: [{ name: 'sleep', match: { commands: ['sh *'] }, action: 'allow' }],
  },
];

let t: TestGateway;
let dev: string;
let agent: AgentProcess;
let oldAgent: AgentProcess;

before(async () => {
  process.env.WARDEN_LEAK_PROBE = LEAK; // the gateway's own environment: no command may see it
  t = await startTestGateway({
    connections: [
      ...connections('embedded', ''),
      ...connections('edge', '-edge'),
      {
        name: 'touch', type: 'exec', command: ['touch'], access: { groups: ['dev'] },
        rules: [
          { name: 'no-blocked', match: { commands: ['touch *blocked*'] }, action: 'block', message: 'not that file' },
          { name: 'held', match: { commands: ['touch *held*'] }, action: 'review', review: { groups: ['approver'] } },
          { name: 'touch', match: { commands: ['touch *'] }, action: 'allow' },
        ],
      },
      { name: 'echo', type: 'exec', command: ['echo'], access: { groups: ['dev'] }, rules: [{ name: 'echo', match: { commands: ['echo *'] }, action: 'allow' }] },
      { name: 'old', type: 'exec', agent: 'old-edge', command: ['true'], access: { groups: ['dev'] }, onUnknown: 'allow' },
      { name: 'pwd', type: 'exec', command: ['pwd'], cwd: dir, access: { groups: ['dev'] }, onUnknown: 'allow' },
      { name: 'missing', type: 'exec', command: ['no-such-program-7f3'], access: { groups: ['dev'] }, onUnknown: 'allow' },
      { name: 'ghost', type: 'exec', agent: 'ghost', command: ['true'], access: { groups: ['dev'] }, onUnknown: 'allow' },
    ],
  });
  dev = await t.token(['dev'], 'exec-dev');
  agent = spawnAgent(t.httpUrl, (await t.gw.services.createToken({ name: 'edge', groups: ['warden-agent'], ttlMs: null }, 'test')).token, { WARDEN_LEAK_PROBE: LEAK });
  // an agent that runs no commands stands for an agent older than exec connections (no header)
  oldAgent = spawnAgent(t.httpUrl, (await t.gw.services.createToken({ name: 'old-edge', groups: ['warden-agent'], ttlMs: null }, 'test')).token, {}, ['--no-exec']);
  await agent.waitFor(/agent connected to the gateway/);
  await oldAgent.waitFor(/agent connected to the gateway/);
});
after(async () => {
  await Promise.all([agent?.kill(), oldAgent?.kill()]);
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Streamed { status: number; lines: { type: string; data?: string; code?: number | null; signal?: string | null; error?: string; masked?: boolean }[]; body: Record<string, unknown> }

async function exec(connection: string, argv: unknown, extra: Record<string, unknown> = {}, token = dev): Promise<Streamed & { stdout: string; stderr: string; exit: Streamed['lines'][number] | undefined }> {
  const res = await fetch(`${t.httpUrl}/api/v1/exec`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ connection, argv, ...extra }) });
  const text = await res.text();
  const ndjson = res.headers.get('content-type')?.startsWith('application/x-ndjson');
  const lines = ndjson ? text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Streamed['lines'][number]) : [];
  const body = ndjson ? {} : (JSON.parse(text || '{}') as Record<string, unknown>);
  const of = (k: string) => lines.filter((l) => l.type === k).map((l) => l.data).join('');
  return { status: res.status, lines, body, stdout: of('stdout'), stderr: of('stderr'), exit: lines.find((l) => l.type === 'exit') };
}

const warden = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], { env: { XDG_CONFIG_HOME: home, WARDEN_GATEWAY: '', WARDEN_TOKEN: dev, ...env }, timeoutMs: 60_000 });

for (const [where, sfx] of [['the embedded agent', ''], ['a remote agent', '-edge']] as const) {
  test(`psql through ${where}: the injected environment reaches it, its value is masked in output and record`, async () => {
    const r = await exec(`psql${sfx}`, ['-c', "select current_setting('application_name'), 40 + 2"]);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.exit?.code, 0, r.stderr);
    // the value came from PGAPPNAME (nothing else sets it): it reached psql, and came back masked
    assert.equal(r.stdout.trim(), '[CREDENTIAL]|42');
    assert.equal(r.exit?.masked, true);
    const rec = await recordedFor(t, "psql -c 'select current_setting('\\''application_name'\\''), 40 + 2'");
    assert.ok(rec.rows.length, 'the command and its output are recorded');
    assert.doesNotMatch(JSON.stringify(rec.rows), new RegExp(APPNAME));
    assert.match(JSON.stringify(rec.rows), /\[CREDENTIAL\]\|42/);
  });

  test(`git and kubectl (client side) through ${where}: exit codes, and the kubeconfig token never shown`, async () => {
    const v = await exec(`git${sfx}`, ['--version']);
    assert.equal(v.exit?.code, 0, v.stderr);
    assert.match(v.stdout, /^git version \d/);
    const repo = join(dir, `repo${sfx}`);
    execFileSync('git', ['init', '-q', '--bare', repo]);
    const ls = await exec(`git${sfx}`, ['ls-remote', repo]);
    assert.equal(ls.exit?.code, 0, ls.stderr);
    const missing = await exec(`git${sfx}`, ['ls-remote', join(dir, 'no-such-repo')]);
    assert.equal(missing.exit?.code, 128, 'git\'s own exit status comes back');
    assert.match(missing.stderr, /does not appear to be a git repository/);

    const client = await exec(`kube${sfx}`, ['version', '--client']);
    assert.equal(client.exit?.code, 0, client.stderr);
    assert.match(client.stdout, /Client Version: v\d/);
    const raw = await exec(`kube${sfx}`, ['config', 'view', '--raw']);
    assert.equal(raw.exit?.code, 0, raw.stderr);
    assert.match(raw.stdout, /token: \[CREDENTIAL\]/, 'the file was written and read: its token is there, masked');
    assert.match(raw.stdout, /current-context: test/, 'what is no secret stays readable');
    assert.doesNotMatch(JSON.stringify(raw.lines), /kubetoken-Secret/);
    const rec = await recordedFor(t, 'kubectl config view --raw');
    assert.ok(rec.rows.length);
    assert.doesNotMatch(JSON.stringify(rec.rows), /kubetoken-Secret/);
    assert.ok(rec.masked.includes('output'), 'the record says the output was masked');
  });

  test(`through ${where}: no shell, only PATH, HOME and the connection's variables, credential files gone after`, async () => {
    const r = await exec(`sh${sfx}`, ['env; echo "$SECRET_TOKEN"; ls -la "$HOME"; exit 7']);
    assert.equal(r.exit?.code, 7);
    const names = r.stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split('=')[0]).sort();
    assert.deepEqual(names.filter((n) => n !== 'PWD' && n !== 'SHLVL' && n !== '_'), ['HOME', 'PATH', 'SECRET_TOKEN', 'SHOWN']);
    assert.doesNotMatch(r.stdout, new RegExp(`${LEAK}|${PGPASS}`));
    assert.match(r.stdout, /SHOWN=plain-value/);
    assert.match(r.stdout, /SECRET_TOKEN=\[CREDENTIAL\]/);
    const home = /HOME=(\S+)/.exec(r.stdout)![1]!;
    assert.equal(existsSync(home), false, 'the private directory is removed after the run');
  });

  test(`through ${where}: a caller who disconnects kills the command; a timeout kills it too`, async () => {
    const pidFile = join(dir, `pid${sfx}`);
    const ac = new AbortController();
    const res = await fetch(`${t.httpUrl}/api/v1/exec`, { method: 'POST', signal: ac.signal, headers: { authorization: `Bearer ${dev}`, 'content-type': 'application/json' }, body: JSON.stringify({ connection: `sleeper${sfx}`, argv: [pidFile] }) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('started')) seen += new TextDecoder().decode((await reader.read()).value);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(pid), 'the command runs');
    ac.abort();
    await eventually('the command to be killed', async () => !alive(pid));

    const slow = await exec(`sh${sfx}`, ['echo before; sleep 30; echo after']);
    assert.equal(slow.status, 200);
    assert.equal(slow.stdout, 'before\n');
    assert.match(slow.exit?.error ?? '', /timed out after 2000 ms/);
    assert.equal(slow.exit?.signal, 'SIGTERM');
  });
}

for (const sfx of ['', '-edge']) {
  test(`backpressure${sfx ? ' through a remote agent' : ''}: a caller who stops reading stops the command, not the gateway's memory`, async () => {
    const counter = join(dir, `count${sfx}`);
    const res = await fetch(`${t.httpUrl}/api/v1/exec`, { method: 'POST', headers: { authorization: `Bearer ${dev}`, 'content-type': 'application/json' }, body: JSON.stringify({ connection: `flood${sfx}`, argv: [counter] }) });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    await reader.read();
    // not reading: the command's writes stop once the bounded buffers on the way are full
    const count = () => Number(existsSync(counter) ? readFileSync(counter, 'utf8') || 0 : 0);
    let last = -1;
    const stalled = await eventually('the command to stall or finish', async () => {
      const now = count();
      // started (a slow machine may take a while to), then no further for a while
      if (now > 0 && now === last) return { n: now };
      last = now;
      await new Promise((r) => setTimeout(r, 400));
      return null;
    }, 60_000);
    assert.ok(stalled.n < 400, `the command wrote ${stalled.n} of 1000 chunks (64 KiB each) to a caller that read none`);
    let bytes = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
    assert.equal(count(), 1000, 'it ran to the end once the caller read');
    assert.ok(bytes > 64 * 1000 * 1000, 'all of it reached the caller');
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('warden exec -- <args>: streams, passes the exit code back, holds (exit 3) and blocks before anything runs', async () => {
  const ok = await warden(['exec', 'sh', '--gateway', t.httpUrl, '--', 'echo out; echo err >&2; exit 5']);
  assert.equal(ok.code, 5);
  assert.equal(ok.stdout, 'out\n');
  assert.equal(ok.stderr, 'err\n');

  const blockedFile = join(dir, 'blocked-marker');
  const blocked = await warden(['exec', 'touch', '--gateway', t.httpUrl, '--', blockedFile]);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /blocked: not that file/);
  assert.equal(existsSync(blockedFile), false, 'nothing ran');

  const heldFile = join(dir, 'held-marker');
  const held = await warden(['exec', 'touch', '--gateway', t.httpUrl, '--', heldFile]);
  assert.equal(held.code, 3, held.stderr);
  const id = /held for review (\S+):/.exec(held.stderr)![1]!;
  assert.equal(existsSync(heldFile), false, 'nothing ran while held');
  const approver = await t.token(['approver'], 'boss');
  const vote = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(vote.status, 200, await vote.text());
  const again = await warden(['exec', 'touch', '--gateway', t.httpUrl, '--', heldFile]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(existsSync(heldFile), true, 'the approved command ran once approved');

  // -c still runs SQL, and a SQL statement on an exec connection says how to call it
  const sql = await warden(['exec', 'psql', '-c', 'select 1', '--gateway', t.httpUrl]);
  assert.equal(sql.code, 1);
  assert.match(sql.stderr, /warden exec psql -- <args>/);
});

test('the record: argv as words, output, exit status and duration, in a session of protocol exec', async () => {
  await exec('echo', ['hello world', 'x']);
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 1000 });
  let found = false;
  for (const s of sessions.filter((x) => x.connection === 'echo')) {
    assert.equal(s.protocol, 'exec');
    const ev = (await t.gw.services.getSession(s.id))!.events;
    const cmd = ev.find((e) => e.type === 'command' && e.data.text === "echo 'hello world' x");
    if (!cmd) continue;
    found = true;
    const res = ev.find((e) => e.type === 'result' && e.data.commandId === cmd.data.commandId)!;
    assert.deepEqual(res.data.rows, [['stdout', 'hello world x\n'], ['stderr', '']]);
    assert.equal(res.data.tag, 'exit 0');
    assert.equal(typeof res.data.durationMs, 'number');
    assert.ok(ev.findIndex((e) => e === cmd) < ev.findIndex((e) => e === res), 'recorded before its result');
  }
  assert.ok(found);

  const pwd = await exec('pwd', []);
  assert.equal(pwd.stdout, `${dir}\n`, 'cwd as configured');

  const missing = await exec('missing', ['x']);
  assert.equal(missing.exit?.code, null);
  assert.match(missing.exit?.error ?? '', /cannot start no-such-program-7f3: not found on PATH/);
  const rec = await recordedFor(t, 'no-such-program-7f3 x');
  assert.deepEqual(rec.rows, [['stdout', ''], ['stderr', '']], 'recorded, with the reason beside it');
});

test('attacks: shell syntax is an argument, NUL and huge argv are refused, the environment cannot be set', async () => {
  const marker = join(dir, 'injected');
  const inj = await exec('echo', [`; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``, '&& id']);
  assert.equal(inj.exit?.code, 0);
  assert.equal(inj.stdout, `; touch ${marker} $(touch ${marker}) \`touch ${marker}\` && id\n`, 'echoed as words');
  assert.equal(existsSync(marker), false, 'no shell ran them');

  const before = (await t.gw.services.listSessions({ limit: 1000 })).length;
  const nul = await exec('echo', ['a\u0000b']);
  assert.equal(nul.status, 400);
  assert.match(String(nul.body.error), /argv\[0\]: holds a NUL/);
  const many = await exec('echo', Array.from({ length: 5000 }, () => 'x'));
  assert.equal(many.status, 400);
  const big = await exec('echo', ['y'.repeat(200_000)]);
  assert.equal(big.status, 400);
  assert.match(String(big.body.error), /at most/);
  const notStrings = await exec('echo', [1, 2]);
  assert.equal(notStrings.status, 400);
  for (const key of ['env', 'files', 'cwd', 'command']) {
    const r = await exec('psql', ['-c', "select current_setting('application_name')"], { [key]: key === 'env' ? { PGAPPNAME: 'mine' } : 'x' });
    assert.equal(r.status, 400, key);
  }
  assert.equal((await t.gw.services.listSessions({ limit: 1000 })).length, before, 'none of these opened a session');

  // a program name is the admin's: the caller's first word is an argument of it
  const prog = await exec('echo', ['/bin/sh', '-c', `touch ${marker}`]);
  assert.equal(prog.stdout, `/bin/sh -c touch ${marker}\n`);
  assert.equal(existsSync(marker), false);

  // no access, no run
  const other = await t.token(['nobody'], 'outsider');
  const denied = await exec('touch', [join(dir, 'outsider-marker')], {}, other);
  assert.equal(denied.status, 403);
  assert.equal(existsSync(join(dir, 'outsider-marker')), false);
});

test('an agent that runs no commands (older, or --no-exec) refuses clearly; the tunnel stays up', async () => {
  const r = await exec('old', []);
  assert.equal(r.status, 200);
  assert.match(r.exit?.error ?? '', /agent "old-edge" .*does not run exec connections/);
  assert.equal(r.exit?.code, null);
  const st = (await (await fetch(`${t.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${t.adminToken}` } })).json()) as { name: string; status: string }[];
  assert.equal(st.find((a) => a.name === 'old-edge')?.status, 'connected');
  const g = await exec('ghost', []);
  assert.match(g.exit?.error ?? '', /cannot reach the agent: agent "ghost" is not connected/);
  // `--` alone: the program with no arguments
  const cli = await warden(['exec', 'ghost', '--gateway', t.httpUrl, '--']);
  assert.equal(cli.code, 255, 'it did not run');
  assert.match(cli.stderr, /agent "ghost" is not connected/);
  const none = await warden(['exec', 'ghost', '--gateway', t.httpUrl]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /nothing to run/);
});

test('MCP run with argv: output, exit code and masking through the SDK client', async () => {
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${dev}` } } }));
  try {
    const r = await client.callTool({ name: 'run', arguments: { connection: 'sh', argv: ['echo "$SECRET_TOKEN"; echo hi; exit 3'] } });
    const s = r.structuredContent as { rows: string[][]; exitCode: number; maskedColumns: string[] };
    assert.equal(s.exitCode, 3);
    assert.deepEqual(s.rows[0], ['stdout', '[CREDENTIAL]\nhi\n']);
    assert.deepEqual(s.maskedColumns, ['output']);
    assert.equal(r.isError, true, 'a failing exit status is an error result');
    const text = (r.content as { text: string }[]).map((c) => c.text).join('\n');
    assert.match(text, /^exit 3/);
    assert.doesNotMatch(text, new RegExp(PGPASS));

    const blockedFile = join(dir, 'mcp-blocked');
    const b = await client.callTool({ name: 'run', arguments: { connection: 'touch', argv: [blockedFile] } });
    assert.equal(b.isError, true);
    assert.match((b.content as { text: string }[])[0]!.text, /Blocked by Warden policy.*not that file/);
    assert.equal(existsSync(blockedFile), false);

    const both = await client.callTool({ name: 'run', arguments: { connection: 'sh', argv: ['true'], sql: 'select 1' } });
    assert.equal(both.isError, true);
    const heldFile = join(dir, 'mcp-held');
    const held = await client.callTool({ name: 'run', arguments: { connection: 'touch', argv: [heldFile] } });
    assert.equal(held.isError, true);
    assert.match((held.content as { text: string }[])[0]!.text, /NOT RUN: Warden held this statement for human review/);
    assert.equal(existsSync(heldFile), false, 'nothing ran while held');
    const desc = await client.callTool({ name: 'describe_connection', arguments: { connection: 'sh' } });
    assert.match((desc.content as { text: string }[])[0]!.text, /exec connection: it has no tables; call run with argv/);
    const sessions = await t.gw.services.listSessions({ limit: 1000 });
    assert.ok(sessions.some((x) => x.connection === 'sh' && x.protocol === 'mcp'));
  } finally {
    await client.close();
  }
});

test('config: a credentialFile reference must name a file, a short credential is refused, errors name the key', async () => {
  const { parseConfig } = await import('../../src/config/load.ts');
  assert.throws(() => parseConfig({ connections: [{ name: 'k', type: 'exec', command: ['kubectl', '--kubeconfig', '${credentialFile:kube}'] }] }), /connections\.0\.command\.2: .*names no entry of files/);
  assert.throws(() => parseConfig({ connections: [{ name: 'k', type: 'exec', command: ['psql'], env: { PGPASSWORD: 'short' } }] }), /connections\.0\.env\.PGPASSWORD: /);
});

test('a gateway shutting down kills the commands it runs and does not wait for them', async () => {
  const g = await startTestGateway({ connections: [{ name: 'sleeper', type: 'exec', command: ['sh', '-c', 'echo $$ > "$0"; echo started; exec sleep 60'], access: { groups: ['dev'] }, onUnknown: 'allow' }] });
  const pidFile = join(dir, 'pid-shutdown');
  const res = await fetch(`${g.httpUrl}/api/v1/exec`, { method: 'POST', headers: { authorization: `Bearer ${await g.token(['dev'])}`, 'content-type': 'application/json' }, body: JSON.stringify({ connection: 'sleeper', argv: [pidFile] }) });
  const reader = res.body!.getReader();
  let seen = '';
  while (!seen.includes('started')) seen += new TextDecoder().decode((await reader.read()).value);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  const closed = await Promise.race([g.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000).unref())]);
  assert.ok(closed, 'the gateway closed without waiting for the command');
  await eventually('the command to be killed', async () => !alive(pid));
  let rest = '';
  for (let r = await reader.read().catch(() => ({ done: true, value: undefined })); !r.done; r = await reader.read().catch(() => ({ done: true, value: undefined }))) rest += new TextDecoder().decode(r.value);
  assert.match(rest, /the gateway is shutting down|^$/);
});
