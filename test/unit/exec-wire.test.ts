// The exec stream between gateway and agent, over an in-memory pair: a spec of another
// version, a file name with a path, and an agent that runs no commands are all refused with
// a reason the caller reads; a good spec runs and its output and exit come back in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { remoteExec, serveExec } from '../../src/tunnel/exec-wire.ts';
import { EXEC_VERSION, type ExecSpec, type OutputChunk } from '../../src/tunnel/exec-spawn.ts';

const spec = (over: Partial<ExecSpec> = {}): ExecSpec => ({ v: EXEC_VERSION, command: ['sh', '-c'], args: ['echo out; echo err >&2; exit 4'], env: {}, files: {}, timeoutMs: 10_000, ...over });

async function through(s: ExecSpec, enabled = true) {
  const [gw, agent] = duplexPair();
  serveExec(agent, { enabled });
  const p = remoteExec(gw, s, 'agent "test"');
  const out: string[] = [];
  for await (const c of p.output as AsyncIterable<OutputChunk>) out.push(`${c.fd}:${c.data.toString()}`);
  return { out, exit: await p.exit };
}

test('a good spec runs: output by stream, then the exit status', async () => {
  const r = await through(spec());
  assert.deepEqual(r.out.sort(), ['1:out\n', '2:err\n']);
  assert.deepEqual(r.exit, { code: 4, signal: null });
});

test('refusals the caller reads: another version, a path for a file name, NUL, exec turned off', async () => {
  assert.match((await through(spec({ v: 2 }))).exit.error ?? '', /version 2, this agent runs version 1/);
  assert.match((await through(spec({ files: { '../evil': 'x' } }))).exit.error ?? '', /files: a name with a path/);
  assert.match((await through(spec({ args: ['a\u0000b'] }))).exit.error ?? '', /args: expected strings without NUL/);
  assert.match((await through(spec(), false)).exit.error ?? '', /does not run exec connections/);
});
