// SSH through a remote agent (its own OS process, `warden agent`): the connection names the
// agent, the agent dials the private sshd; exec and a pty shell work and are recorded, and
// killing the agent mid-shell ends the session with a message that says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { askpass, sshArgs, startSshd, type TestSshd } from '../helpers/sshd.ts';
import { commandsOf, eventsOf, resultsOf } from '../helpers/records.ts';
import { run } from '../helpers/clients.ts';
import { BIN, spawnAgent, eventually, type AgentProcess } from './agent-harness.ts';

process.env.WARDEN_TUNNEL_HEARTBEAT_MS = '3000';

let sshd: TestSshd;
let t: TestGateway;
let work: string;
let agent: AgentProcess;

before(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'warden-ssh-agent-'));
  t = await startTestGateway({
    connections: [{ name: 'far', type: 'ssh', host: '127.0.0.1', port: sshd.port, user: sshd.user, privateKey: sshd.clientKey, hostKey: sshd.hostKey, agent: 'site-s', access: { groups: ['dev'] } }],
  });
  const agentToken = (await run(process.execPath, [BIN, 'agents', 'add', 'site-s', '--gateway', t.httpUrl], { env: { WARDEN_TOKEN: t.adminToken } })).stdout.trim();
  agent = spawnAgent(t.httpUrl, agentToken);
  await agent.waitFor(/agent connected to the gateway/);
});
after(async () => {
  await agent?.kill();
  await t?.close();
  await sshd?.close();
  rmSync(work, { recursive: true, force: true });
});

test('ssh exec through the agent runs on the target and is recorded', async () => {
  const token = await t.token(['dev'], 'far-exec');
  const file = join(work, 'made-via-agent');
  const r = await run('ssh', [...sshArgs(t.sshPort), 'far@127.0.0.1', `touch ${file} && echo via-agent && exit 3`], { env: askpass(work, token), timeoutMs: 30_000 });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'via-agent\n');
  assert.ok(existsSync(file), 'the command ran on the target');
  const [cmd] = await commandsOf(t, 'far-exec');
  assert.equal(cmd!.data.text, `touch ${file} && echo via-agent && exit 3`);
  const [res] = await resultsOf(t, 'far-exec');
  assert.equal(res!.data.tag, 'exit 3');
});

test('a caller who leaves mid-command is not recorded as a lost target connection', async () => {
  const token = await t.token(['dev'], 'far-leaver');
  const child = spawn('ssh', [...sshArgs(t.sshPort), 'far@127.0.0.1', 'echo started; sleep 30'], { env: { ...process.env, ...askpass(work, token) } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  await eventually('the command started', async () => out.includes('started'), 20_000);
  child.kill('SIGKILL');
  const res = await eventually('the result', async () => (await resultsOf(t, 'far-leaver'))[0], 20_000);
  assert.notEqual(res.data.tag, 'lost', JSON.stringify(res.data));
  assert.equal(res.data.error, undefined);
});

/** `ssh -tt far@gateway`: types each line when the prompt is back; resolves when `until` shows (or the process ends) */
function shell(token: string): { child: ChildProcessWithoutNullStreams; out: () => string; type: (line: string) => Promise<void>; closed: Promise<number | null> } {
  const child = spawn('ssh', [...sshArgs(t.sshPort), '-tt', 'far@127.0.0.1'], { env: { ...process.env, ...askpass(work, token) } });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b));
  child.stderr.on('data', (b: Buffer) => (out += b));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    out: () => out,
    closed,
    async type(line) {
      await eventually('a prompt', async () => /[$#] $/.test(out), 20_000);
      out += '\u0000';
      child.stdin.write(`${line}\n`);
    },
  };
}

test('a pty shell through the agent: typed lines run and are recorded; killing the agent ends it with a clear message', async () => {
  const token = await t.token(['dev'], 'far-shell');
  const sh = shell(token);
  const file = join(work, 'typed-via-agent');
  // short lines: a line the terminal wraps does not echo as typed, and would pass unjudged
  await sh.type(`touch ${file}`);
  await sh.type('expr 40 + 2');
  await eventually('the typed line ran', async () => /[\r\n]42\r\n/.test(sh.out()), 20_000).catch((e: Error) => assert.fail(`${e.message}: ${JSON.stringify(sh.out())}`));
  assert.ok(existsSync(file));
  await agent.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([sh.closed, new Promise<string>((r) => (timer = setTimeout(() => r('still open'), 20_000)))]);
  clearTimeout(timer);
  assert.notEqual(code, 'still open', `the shell did not end when the agent died:\n${sh.out()}`);
  assert.match(sh.out(), /warden: the connection to the target was lost \(agent "site-s" disconnected: [^)]+\)/, 'the caller is told the agent is gone');
  assert.equal(code, 255, 'no success status for a shell cut off');
  const cmds = (await commandsOf(t, 'far-shell')).map((e) => e.data.text);
  assert.deepEqual(cmds, ['(shell)', `touch ${file}`, 'expr 40 + 2']);
  // the session ends when the caller's ssh hangs up, just after the shell's exit status reached it
  await eventually('the session is closed in the record', async () => (await eventsOf(t, 'far-shell')).find((e) => e.type === 'session.end'), 20_000);
  const [res] = await resultsOf(t, 'far-shell');
  assert.equal(res!.data.tag, 'lost');
  assert.match(String((res!.data.error as { message: string }).message), /agent "site-s" disconnected/, 'the record says why the shell ended');
});
