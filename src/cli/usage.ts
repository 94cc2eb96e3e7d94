// `warden usage`: LLM tokens per UTC day, connection and identity, from a gateway's API or the
// local store. People who are not auditors see their own usage only (the API decides).
import type { Command } from 'commander';
import type { BackendOptions } from './backend.ts';
import { common, withBackend } from './admin.ts';
import { table } from './render.ts';

export function registerUsage(program: Command): void {
  common(program.command('usage').description('LLM token usage per day, connection and identity'))
    .option('--json', 'machine-readable output')
    .option('--since <day>', 'first day (YYYY-MM-DD) or a number of days including today (7d)', '1d')
    .option('--until <day>', 'last day (YYYY-MM-DD)')
    .option('--connection <name>', 'only this connection')
    .option('--identity <name>', 'only this identity (name or kind:subject)')
    .action(async (opts: BackendOptions & { json?: boolean; since: string; until?: string; connection?: string; identity?: string }) => {
      // loaded here: the usage module brings the store's query builder, which --help must not load
      const { parseUsageQuery } = await import('../usage/query.ts');
      const q = parseUsageQuery({ since: opts.since, until: opts.until, connection: opts.connection, identity: opts.identity });
      const { rows } = await withBackend(opts, (b) => b.usage(q));
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no LLM usage recorded in that range');
      console.log(table(rows as unknown as Record<string, unknown>[], ['day', 'connection', 'identityName', 'inputTokens', 'outputTokens', 'totalTokens', 'requests', 'refused', 'reserved']));
    });
}
