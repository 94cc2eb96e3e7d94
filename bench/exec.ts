// Exec connections against running the same command directly, in the same run: the round trip
// of a command that does nothing (`true`), and the rate of a large text output (50 MB of lines),
// through the embedded agent and a remote `warden agent` process, masking on (the default).
import { spawn } from 'node:child_process';
import { startTestGateway } from '../test/helpers/gateway.ts';
import { spawnAgent } from '../test/integration/agent-harness.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const MB = Number(process.env.MB ?? 50);
const big = ['-c', `yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c ${MB * 1_000_000}`];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function direct(argv: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let n = 0;
    c.stdout.on('data', (b: Buffer) => (n += b.length));
    c.on('close', () => resolve(n));
  });
}

const t = await startTestGateway({
  connections: ['embedded', 'edge'].flatMap((agent) => [
    { name: `true-${agent}`, type: 'exec', agent, command: ['true'], access: { groups: ['dev'] }, onUnknown: 'allow' },
    { name: `sh-${agent}`, type: 'exec', agent, command: ['sh'], access: { groups: ['dev'] }, onUnknown: 'allow' },
    { name: `raw-${agent}`, type: 'exec', agent, command: ['sh'], access: { groups: ['dev'] }, onUnknown: 'allow', masking: { enabled: false } },
  ]),
});
const token = await t.token(['dev']);
const agent = spawnAgent(t.httpUrl, (await t.gw.services.createToken({ name: 'edge', groups: ['warden-agent'], ttlMs: null }, 'bench')).token);
await agent.waitFor(/agent connected to the gateway/);

async function viaWarden(connection: string, argv: string[]): Promise<number> {
  const res = await fetch(`${t.httpUrl}/api/v1/exec`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ connection, argv }) });
  let n = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
  return n;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const rows: string[] = [];
const trip = { direct: [] as number[], embedded: [] as number[], edge: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  trip.direct.push(await time(() => direct(['true'])));
  trip.embedded.push(await time(() => viaWarden('true-embedded', [])));
  trip.edge.push(await time(() => viaWarden('true-edge', [])));
}
const d = median(trip.direct);
rows.push(`round trip of \`true\` (median of ${ROUNDS}): direct ${d.toFixed(1)} ms, embedded ${median(trip.embedded).toFixed(1)} ms, remote agent ${median(trip.edge).toFixed(1)} ms`);
const rate = async (fn: () => Promise<unknown>) => MB / ((await time(fn)) / 1000);
const r0 = await rate(() => direct(['sh', ...big]));
const r1 = await rate(() => viaWarden('sh-embedded', big));
const r2 = await rate(() => viaWarden('sh-edge', big));
const r3 = await rate(() => viaWarden('raw-embedded', big));
const r4 = await rate(() => viaWarden('raw-edge', big));
rows.push(`masking off: embedded ${r3.toFixed(0)} MB/s (${(r3 / r0).toFixed(2)}x), remote agent ${r4.toFixed(0)} MB/s (${(r4 / r0).toFixed(2)}x)`);
rows.push(`${MB} MB of text output: direct ${r0.toFixed(0)} MB/s, embedded ${r1.toFixed(0)} MB/s (${(r1 / r0).toFixed(2)}x), remote agent ${r2.toFixed(0)} MB/s (${(r2 / r0).toFixed(2)}x)`);
console.log(rows.join('\n'));
await agent.kill();
await t.close();
