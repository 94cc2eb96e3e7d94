// The server's named objects as the Postgres door models them: changed by the server's
// answers only, and predicted for an Execute exactly within its Sync window (or 'wait').
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerState, type Op, type Resolution } from '../../src/protocols/postgres/server-state.ts';

const P = (name: string, text: string): Op => ({ k: 'P', name, runs: { kind: 'text', text } });
const B = (portal: string, statement: string, params: (string | null)[] = []): Op => ({ k: 'B', portal, statement, params });
const C = (target: 'S' | 'P', name: string): Op => ({ k: 'C', target, name });
const S: Op = { k: 'S' };
const Q = (effects: ({ prepare?: string; deallocate?: string } | undefined)[] = []): Op => ({ k: 'Q', effects, done: 0 });

const text = (r: Resolution) => (r.kind === 'portal' && r.value.runs.kind === 'text' ? r.value.runs.text : r.kind);

function send(state: ServerState, ...ops: Op[]) {
  for (const op of ops) state.forwarded(op);
}

test('names change when the server acknowledges, not when the client asks', () => {
  const s = new ServerState();
  send(s, P('s1', 'SELECT 1'), S);
  assert.equal(s.statements.has('s1'), false);
  s.parseComplete();
  s.ready('I');
  assert.deepEqual(s.statements.get('s1'), { kind: 'text', text: 'SELECT 1' });
  // A Parse of an existing name fails on the server: the old text stays.
  send(s, P('s1', 'DELETE FROM t'), S);
  s.error('P');
  s.ready('I');
  assert.deepEqual(s.statements.get('s1'), { kind: 'text', text: 'SELECT 1' });
});

test('after an error the server skips to Sync: a Close there is not done', () => {
  const s = new ServerState();
  send(s, P('keep', 'DELETE FROM t'), S);
  s.parseComplete();
  s.ready('I');
  send(s, P('', 'SELEC'), C('S', 'keep'), S);
  s.error('P');
  s.ready('I');
  assert.ok(s.statements.has('keep'));
  assert.equal(s.statements.has(''), false, 'a failed unnamed Parse has dropped the unnamed statement');
});

test('a simple query drops the unnamed statement and portal; the end of a transaction drops portals', () => {
  const s = new ServerState();
  send(s, P('', 'SELECT 1'), B('', ''), B('named', ''), S);
  s.parseComplete();
  s.bindComplete();
  s.bindComplete();
  s.ready('T');
  assert.ok(s.portals.has('named'));
  send(s, Q());
  s.commandComplete();
  s.ready('I');
  assert.equal(s.statements.has(''), false);
  assert.equal(s.portals.size, 0);
});

test('SQL PREPARE, DEALLOCATE and DECLARE take effect at their CommandComplete', () => {
  const s = new ServerState();
  send(s, Q([{ prepare: 'p' }, { deallocate: '*' }, { prepare: 'q' }]));
  s.commandComplete();
  assert.deepEqual(s.statements.get('p'), { kind: 'prepared', name: 'p' });
  s.error('Q'); // the DEALLOCATE failed: the rest of the query does not run
  s.ready('E');
  assert.ok(s.statements.has('p'));
  assert.equal(s.statements.has('q'), false);
});

test('an answer that does not fit is a desync, not a guess', () => {
  const s = new ServerState();
  send(s, B('', 'x'), S);
  assert.throws(() => s.parseComplete(), /expected the answer to a Bind/);
});

test('within a window, an Execute is predicted exactly', () => {
  const s = new ServerState();
  const p = s.predictor();
  p.add(P('s', 'SELECT 1'));
  p.add(B('', 's'));
  assert.equal(text(p.resolve('')), 'SELECT 1');
  p.add(C('P', ''));
  assert.equal(text(p.resolve('')), 'absent');
});

test('a pending earlier window: a name it may have created is what runs, or nothing', () => {
  const s = new ServerState();
  send(s, P('s', 'SELECT 1'), S);
  const p = s.predictor();
  p.add(B('', 's'));
  assert.equal(text(p.resolve('')), 'SELECT 1');
});

test('two windows that may leave different texts under one name: wait for the answers', () => {
  const s = new ServerState();
  const p = s.predictor();
  for (const op of [P('s', 'DELETE FROM t'), S, P('s', 'SELECT 1'), S, B('', 's')]) p.add(op);
  assert.equal(text(p.resolve('')), 'wait');
});

test('a Close in a pending window may not happen: a later Parse of the name cannot be trusted', () => {
  const s = new ServerState();
  send(s, P('s', 'DELETE FROM t'), S);
  s.parseComplete();
  s.ready('I');
  const p = s.predictor();
  for (const op of [P('', 'SELEC'), C('S', 's'), S, P('s', 'SELECT 1'), S, B('', 's')]) p.add(op);
  assert.equal(text(p.resolve('')), 'wait');
});

test('a certain name makes a new Parse of it fail in a later window: the old text is predicted', () => {
  const s = new ServerState();
  send(s, P('s', 'DELETE FROM t'), S);
  s.parseComplete();
  s.ready('I');
  const p = s.predictor();
  for (const op of [P('s', 'SELECT 1'), S, B('', 's')]) p.add(op);
  assert.equal(text(p.resolve('')), 'DELETE FROM t');
});

test('a query that may PREPARE a name makes its value uncertain', () => {
  const s = new ServerState();
  send(s, P('x', 'SELECT 1'), S);
  s.parseComplete();
  s.ready('I');
  const p = s.predictor();
  for (const op of [Q([{ deallocate: 'x' }, { prepare: 'x' }]), B('', 'x')]) p.add(op);
  assert.equal(text(p.resolve('')), 'wait');
});

// Found by `npm run fuzz` (test/fuzz-cases/relay-2032.json, relay-2.json).
test('the error of a message Warden injected skips the Query and Parse behind it, not just the Query', () => {
  const s = new ServerState();
  // a refused Execute (Warden's raising Parse/Bind/Execute, not in the model), then these
  send(s, Q(), P('a', 'SELECT 1'), S);
  s.error('other');
  s.ready('I');
  assert.equal(s.statements.has('a'), false, 'the server skipped the Parse');
  send(s, P('a', 'DELETE FROM t'), S);
  s.parseComplete();
  s.ready('I');
  assert.deepEqual(s.statements.get('a'), { kind: 'text', text: 'DELETE FROM t' });
});

test('after an error with no Sync on its way, what is forwarded up to the next Sync is skipped', () => {
  const s = new ServerState();
  send(s, B('', 'missing'));
  s.error('B');
  send(s, P('b', 'SELECT 1'), B('', 'b'), Q(), S);
  assert.deepEqual(s.pendingOps(), [S]);
  s.ready('I');
  assert.equal(s.statements.has('b'), false);
  assert.ok(s.settled);
});
