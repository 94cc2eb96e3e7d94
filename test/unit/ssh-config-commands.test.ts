// The SSH parts of warden.yaml and of the policy: the door's address, `type: ssh` connections
// (defaults, mistakes named by key), how a command line is split into the commands rules
// judge (and what is opaque), `commands` globs, and the shell's line tracker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { shellCommands, classifySsh } from '../../src/policy/ssh-commands.ts';
import { compilePolicy, type PolicyConnection } from '../../src/policy/policy.ts';
import { rulesSchema } from '../../src/policy/rule-schema.ts';
import { LineTracker } from '../../src/protocols/ssh/line-tracker.ts';

// (ssh2's generator makes a key its own parser refuses ~3 times in 1000: made again then)
let key = ssh2.utils.generateKeyPairSync('ed25519');
while (ssh2.utils.parseKey(key.private) instanceof Error) key = ssh2.utils.generateKeyPairSync('ed25519');
const conn = (extra: Record<string, unknown> = {}) => ({ name: 'box', type: 'ssh', host: 'h.internal', user: 'deploy', privateKey: key.private, hostKey: key.public, ...extra });

test('the SSH door listens on 127.0.0.1:2222 unless told otherwise; null turns it off', () => {
  assert.equal(parseConfig({}).gateway.listen.ssh, '127.0.0.1:2222');
  assert.equal(parseConfig({ gateway: { listen: { ssh: null } } }).gateway.listen.ssh, null);
});

test('an ssh connection with its defaults', () => {
  const c = parseConfig({ connections: [conn()] }).connections[0]!;
  assert.equal(c.type, 'ssh');
  assert.equal(c.type === 'ssh' && c.port, 22);
  assert.equal(c.agent, 'embedded');
});

test('a bad key or host key is named by its key path, and the private key is never echoed', () => {
  try {
    parseConfig({ connections: [conn({ privateKey: 'not a key', hostKey: 'ssh-ed25519', port: 0 }), conn({ name: 'b', hostKey: key.private })] });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const joined = e.problems.join('\n');
    assert.match(joined, /connections\.0\.privateKey: not a private key ssh can read/);
    assert.match(joined, /connections\.0\.hostKey: expected the target's public key/);
    assert.match(joined, /connections\.0\.port/);
    assert.match(joined, /connections\.1\.hostKey: a private key: pin the target's PUBLIC host key/);
    assert.doesNotMatch(joined, /not a key"|BEGIN OPENSSH/);
  }
});

test('a command line splits into the commands its shell runs, quotes resolved', () => {
  assert.deepEqual(shellCommands(`uname -a; rm -rf "/tmp/a b" && echo 'x;y' | wc -l &`), [['uname', '-a'], ['rm', '-rf', '/tmp/a b'], ['echo', 'x;y'], ['wc', '-l']]);
  assert.deepEqual(shellCommands('LANG=C sudo r\\m -f x\nif true; then ls; fi'), [['sudo', 'rm', '-f', 'x'], ['true'], ['ls']]);
  assert.deepEqual(shellCommands('(cd /srv && ./deploy.sh)'), [['cd', '/srv'], ['./deploy.sh']]);
  for (const hidden of ['echo $(rm -rf /)', 'echo `id`', '$CMD -rf /', 'diff <(ls a) b', `echo "unterminated`, 'echo "$(id)"']) {
    assert.equal(typeof shellCommands(hidden), 'string', hidden);
    assert.equal(classifySsh(hidden).statements[0]!.opaque, true, hidden);
  }
});

test('commands globs: any command of the line for block, every command for allow, by path or base name', () => {
  const p = compilePolicy(rulesSchema.parse([
    { name: 'no-rm', match: { types: ['ssh'], commands: ['rm *'] }, action: 'block' },
    { name: 'reads', match: { types: ['ssh'], commands: ['ls*', 'cat *'] }, action: 'allow' },
    { name: 'rest', match: { types: ['ssh'] }, action: 'review' },
  ]));
  const c: PolicyConnection = { name: 'box', type: 'ssh', onUnknown: 'review' };
  const who = { kind: 'user', subject: 'u1', name: 'alice', groups: ['dev'] } as never;
  const decide = (text: string) => p.decide({ identity: who, connection: c, command: { text }, classification: classifySsh(text) }).action;
  assert.equal(decide('ls -la; cat /etc/hostname'), 'allow');
  assert.equal(decide('ls; /usr/bin/rm -f x'), 'block');
  assert.equal(decide('ls; touch x'), 'review');
  // what cannot be read falls to onUnknown, never to an allow rule
  assert.equal(decide('ls $(echo x)'), 'review');
  assert.equal(p.decide({ identity: who, connection: { ...c, onUnknown: 'block' }, command: { text: 'ls `id`' }, classification: classifySsh('ls `id`') }).action, 'block');
});

test('the line tracker: plain lines are known, edited ones and full-screen input are not', () => {
  const t = new LineTracker();
  let segs = t.input('ls -l\x7f\x7fa\r');
  assert.deepEqual(segs, [{ before: 'ls -l\x7f\x7fa', enter: '\r', line: 'ls a' }]);
  segs = t.input('rm x\t\r');
  assert.equal(segs[0]!.line, null, 'Tab completion: the shell may have changed the line');
  t.output('\x1b[?1049h');
  assert.equal(t.input(':q\r')[0]!.line, null, 'typed inside vim');
  t.output('\x1b[?1049l');
  assert.equal(t.input('pwd\r')[0]!.line, 'pwd');
  // a pasted line is as known as a typed one
  assert.equal(t.input('\x1b[200~rm -rf /srv\x1b[201~\r')[0]!.line, 'rm -rf /srv');
  t.nextLine();
  t.output('$ whoami');
  assert.ok(t.echoed('whoami'));
});
