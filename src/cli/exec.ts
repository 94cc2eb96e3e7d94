// `warden exec <connection> -c "<command>"`: one command through the gateway's pipeline,
// as you (WARDEN_TOKEN or the stored login), printed like psql prints a result. The
// gateway decides and records everything; this only sends the command and shows the answer.
// Exit codes: 0 ran, 1 refused or failed, 3 held for review (run it again once approved).
// `warden exec <connection> -- <args...>` runs a command of an exec connection instead: its
// output streams to stdout and stderr, and the command's exit status is this one's (a
// signal: 128 + its number; the agent unreachable or the program not startable: 255).
import type { Command } from 'commander';
import { Option } from 'commander';
import { loadCredentials } from '../identity/login-store.ts';
import { gatewayToken } from './backend.ts';
import { gatewayRequest } from './gateway-http.ts';
import { runArgv } from './exec-argv.ts';

interface ExecResult {
  columns: { name: string; type: number }[];
  rows: (string | null)[][];
  rowCount: number;
  truncated: boolean;
  command: string;
}

export function registerExec(program: Command): void {
  program
    .command('exec <connection> [argv...]')
    .description('run one command on a connection through the gateway (rules, reviews, recording and masking apply), as you: -c "<SQL>" on a database, or -- <args...> on an exec connection')
    .option('-c, --command <command>', 'the statement to run (database connections)')
    .addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY, the stored login\'s, or the http listener of --config)'))
    .option('--config <file>', 'config file whose gateway to use when no --gateway is given')
    .option('--json', 'print the result as JSON')
    .action(async (connection: string, argv: string[], opts: { command?: string; gateway?: string; config?: string; json?: boolean }) => {
      if (opts.command !== undefined && argv.length) throw new Error('give either -c "<statement>" or -- <args...>, not both');
      // `--` alone runs the program with no arguments
      const dashes = process.argv.includes('--');
      if (opts.command === undefined && !argv.length && !dashes) throw new Error('nothing to run: -c/--command "<statement>" for a database, or -- <args...> for an exec connection');
      // An empty WARDEN_GATEWAY counts as unset.
      const base = opts.gateway || process.env.WARDEN_GATEWAY || loadCredentials()?.gateway || (await localGateway(opts.config));
      const token = await gatewayToken();
      if (opts.command === undefined) return void (process.exitCode = await runArgv(base, token, connection, argv));
      const res = await gatewayRequest(base, 'POST', '/api/v1/exec', { token, body: { connection, command: opts.command } });
      const body = res.body as Partial<ExecResult> & { error?: string; reviewId?: string; code?: string | null; detail?: string | null; hint?: string | null };
      if (res.status === 202) {
        console.error(`held for review ${body.reviewId}: ${body.error}\nnothing ran; once it is approved, run the same command again`);
        process.exitCode = 3;
        return;
      }
      if (!res.ok) {
        const extra = [body.code && `SQLSTATE ${body.code}`, body.detail && `DETAIL: ${body.detail}`, body.hint && `HINT: ${body.hint}`].filter(Boolean).join('\n');
        throw new Error(`${body.error ?? `gateway answered ${res.status}: ${res.statusText}`}${extra ? `\n${extra}` : ''}`);
      }
      if (opts.json) return console.log(JSON.stringify(body, null, 2));
      console.log(render(body as ExecResult));
    });
}

/** The gateway a local config serves (its http listener), for `warden exec --config`. The config loader is imported only then (main.ts). */
async function localGateway(configFile: string | undefined): Promise<string> {
  const [{ loadConfig }, { hostPort, localHostFor }] = await Promise.all([import('../config/load.ts'), import('../config/listen.ts')]);
  const { host, port } = hostPort(loadConfig(configFile).config.gateway.listen.http);
  const h = localHostFor(host);
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** psql's aligned format: a header, a rule, the rows, then "(N rows)"; a command without rows prints its tag. */
function render(r: ExecResult): string {
  if (r.columns.length === 0) return r.command === 'SELECT' || !r.command ? r.command || 'OK' : `${r.command}${/^(INSERT|UPDATE|DELETE|MERGE|COPY|MOVE|FETCH)$/.test(r.command) ? ` ${r.rowCount}` : ''}`;
  const cells = r.rows.map((row) => row.map((v) => (v === null ? '' : v)));
  const widths = r.columns.map((c, i) => Math.max(c.name.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) => ' ' + vals.map((v, i) => v.padEnd(widths[i]!)).join(' | ').trimEnd();
  const out = [line(r.columns.map((c) => c.name)), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...cells.map(line)];
  out.push(`(${r.rowCount} row${r.rowCount === 1 ? '' : 's'})${r.truncated ? `, ${r.rows.length} shown: add a LIMIT or a WHERE clause` : ''}`);
  return out.join('\n');
}
