// bench:mcp — the added latency of MCP `run` for a one-row SELECT versus pg through the
// gateway's Postgres door (both go through the same pipeline), and the size of tools/list
// in tokens (JSON characters / 4). Needs Postgres on 127.0.0.1:5432 (trust).
import pg from 'pg';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startTestGateway, localPostgres } from '../test/helpers/gateway.ts';

const N = Number(process.env.N ?? 500);
const t = await startTestGateway({ connections: [localPostgres('db', { access: { groups: ['dev'] } })] });
const token = await t.token(['dev'], 'bench');

async function time(fn: () => Promise<unknown>): Promise<{ p50: number; mean: number }> {
  for (let i = 0; i < 20; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    await fn();
    xs.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  xs.sort((a, b) => a - b);
  return { p50: xs[Math.floor(xs.length / 2)]!, mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

const pgc = new pg.Client({ host: '127.0.0.1', port: t.pgPort, user: 'db', database: 'db', password: token });
await pgc.connect();
const viaPg = await time(() => pgc.query('SELECT 1 AS n'));
await pgc.end();

const mcp = new Client({ name: 'bench', version: '1' });
await mcp.connect(new StreamableHTTPClientTransport(new URL(`${t.httpUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
const viaMcp = await time(() => mcp.callTool({ name: 'run', arguments: { connection: 'db', sql: 'SELECT 1 AS n' } }));
const tools = await mcp.listTools();
await mcp.close();
await t.close();

const chars = JSON.stringify(tools).length;
console.log(`one-row SELECT, ${N} sequential calls, through the gateway`);
console.log(`  pg (Postgres door)  p50 ${viaPg.p50.toFixed(2)} ms  mean ${viaPg.mean.toFixed(2)} ms`);
console.log(`  MCP run (HTTP)      p50 ${viaMcp.p50.toFixed(2)} ms  mean ${viaMcp.mean.toFixed(2)} ms`);
console.log(`  added by MCP        p50 ${(viaMcp.p50 - viaPg.p50).toFixed(2)} ms  (x${(viaMcp.p50 / viaPg.p50).toFixed(1)})`);
console.log(`tools/list: ${tools.tools.length} tools, ${chars} JSON chars ≈ ${Math.round(chars / 4)} tokens (budget ~2000)`);
