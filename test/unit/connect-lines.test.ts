// The lines `warden start` prints to paste: run through a real POSIX shell (with the
// commands they call replaced by functions that show their words), a config path with a
// space stays one word, and a gateway with no demo prints no `<groups>` placeholder (which
// a shell reads as a redirection from a file named "groups").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectLines, shellWord } from '../../src/cli/connect-lines.ts';
import { run } from '../helpers/clients.ts';

const words = async (line: string) => {
  const r = await run('env', ['-u', 'USER', 'sh', '-c', `npx() { printf '%s\\n' "$@" >&2; echo TOKEN; }; claude() { printf '%s\\n' "$@"; }; psql() { printf '%s\\n' "$@"; }; ${line.trim()}`]);
  assert.equal(r.code, 0, r.stderr);
  return { args: r.stdout.trim().split('\n'), npx: r.stderr.trim().split('\n') };
};

test('shellWord quotes what a shell would split or expand', () => {
  assert.equal(shellWord('/tmp/a/warden.yaml'), '/tmp/a/warden.yaml');
  assert.equal(shellWord('/tmp/my dir/w.yaml'), "'/tmp/my dir/w.yaml'");
  assert.equal(shellWord("it's $HOME"), `'it'\\''s $HOME'`);
});

test('no demo: the MCP line names the connections\' groups and pastes cleanly; a relative config becomes absolute', async () => {
  const lines = connectLines({ config: 'my dir/w.yaml', cwd: '/srv/warden', pg: { host: '127.0.0.1', port: 15432 }, httpUrl: 'http://127.0.0.1:8009', demo: false, groups: ['eng', 'ai', 'eng', 'bad group'] });
  const mcp = lines.find((l) => l.includes('claude mcp add'))!;
  assert.doesNotMatch(mcp, /</);
  const w = await words(mcp);
  assert.deepEqual(w.args, ['mcp', 'add', '--transport', 'http', 'warden', 'http://127.0.0.1:8009/mcp', '--header', 'Authorization: Bearer TOKEN']);
  assert.deepEqual(w.npx, ['warden', 'token', 'create', '--config', '/srv/warden/my dir/w.yaml', '--name', 'agent', '--groups', 'eng,ai', '--ttl', '8h']);
  assert.ok(!lines.some((l) => l.includes('psql')), 'no demo line without the demo');
});

test('demo: the psql line pastes cleanly with $USER unset', async () => {
  const lines = connectLines({ pg: { host: '127.0.0.1', port: 15432 }, httpUrl: 'http://127.0.0.1:8009', demo: true, groups: [] });
  const w = await words(lines.find((l) => l.trim().startsWith('psql '))!);
  assert.deepEqual(w.args, ['host=127.0.0.1 port=15432 user=demo dbname=demo password=TOKEN']);
  assert.equal(w.npx.slice(0, 3).join(' '), 'warden token create');
  assert.ok(!w.npx.includes('--config'), 'no --config when start had none');
});

test('no groups anywhere: the line still pastes, and says what is missing', () => {
  const lines = connectLines({ pg: { host: '127.0.0.1', port: 1 }, httpUrl: 'http://x', demo: false, groups: [] });
  assert.ok(lines.some((l) => l.includes('access.groups')));
  assert.doesNotMatch(lines.join('\n'), /<groups>/);
});
