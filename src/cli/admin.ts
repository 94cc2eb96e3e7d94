// Commands that read or change the gateway's state: tokens, sessions, audit, connections.
import { Option, type Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { openBackend, type Backend, type BackendOptions } from './backend.ts';
import { renderReplay, table, shorten } from './render.ts';
import { play, recordingsOf } from './render-terminal.ts';

export const common = (c: Command) =>
  c.option('-c, --config <file>', 'config file for local use (default: ./warden.yaml when present)').addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)'));

export async function withBackend<T>(opts: BackendOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const b = await openBackend(opts);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** `--since` as an ISO time or a duration back from now (7d). */
function sinceTime(text: string): string {
  if (!Number.isNaN(Date.parse(text)) && /^\d{4}-/.test(text)) return new Date(text).toISOString();
  return new Date(Date.now() - parseDuration(text)).toISOString();
}

export function registerAdmin(program: Command): void {
  const token = program.command('token').description('access tokens (API keys) for people, scripts and AI agents');
  common(token.command('create').description('create an access token; prints the token alone on stdout'))
    .requiredOption('--name <name>', 'who or what the token is for')
    .option('--groups <list>', 'comma-separated groups', '')
    .option('--ttl <duration>', 'lifetime, e.g. 1h, 7d (default: no expiry)')
    .action(async (opts: BackendOptions & { name: string; groups: string; ttl?: string }) => {
      const groups = opts.groups.split(',').map((g) => g.trim()).filter(Boolean);
      const ttlMs = opts.ttl ? parseDuration(opts.ttl) : null;
      const t = await withBackend(opts, (b) => b.createToken({ name: opts.name, groups, ttlMs, ttl: opts.ttl }));
      process.stdout.write(t.token + '\n');
    });

  const sessions = program.command('sessions').description('recorded sessions');
  common(sessions.command('list').description('recorded sessions, newest first'))
    .option('--json', 'machine-readable output')
    .option('--limit <n>', 'how many', '50')
    .option('--connection <name>', 'only this connection')
    .option('--command <glob>', 'only sessions that ran a matching command (SQL statement, HTTP `METHOD /path`, SSH command or shell line; `*` matches any text, case-sensitive, as in `commands:` rules), with each hit')
    .option('--since <time>', 'with --command: sessions started at or after this ISO time, or this long ago (7d)')
    .action(async (opts: BackendOptions & { json?: boolean; limit: string; connection?: string; command?: string; since?: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Error('--limit must be an integer from 1 to 1000');
      if (opts.since !== undefined && opts.command === undefined) throw new Error('--since works with --command');
      if (opts.command !== undefined) {
        const glob = opts.command;
        const since = opts.since === undefined ? undefined : sinceTime(opts.since);
        const { searchSessions, renderHits } = await import('./session-search.ts');
        const hits = await withBackend(opts, (b) => searchSessions(b, { glob, limit, ...(opts.connection ? { connection: opts.connection } : {}), ...(since ? { since } : {}) }));
        return console.log(opts.json ? JSON.stringify(hits, null, 2) : renderHits(hits, glob));
      }
      const rows = await withBackend(opts, (b) => b.listSessions({ limit, connection: opts.connection }));
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no sessions recorded yet');
      console.log(table(rows, ['id', 'connection', 'protocol', 'identityName', 'clientAddr', 'startedAt', 'endedAt', 'commands', 'endReason']));
    });
  common(sessions.command('show <id>').description('replay a session: every command in order with identity, time, decision and result'))
    .option('--json', 'machine-readable output')
    .option('--play', 'replay the terminal recordings of an SSH session at recorded speed (on the gateway\'s machine)')
    .option('--from <where>', 'start at a command (its id <session>:<n>, or #<n>) or a time into the session (90s, 1m30s, 12.5)')
    .action(async (id: string, opts: BackendOptions & { json?: boolean; play?: boolean; from?: string }) => {
      const s = await withBackend(opts, (b) => b.getSession(id));
      if (!s) {
        console.error(`no session ${id}`);
        process.exitCode = 1;
        return;
      }
      if (opts.json) return console.log(JSON.stringify(s, null, 2));
      const { replayFrom } = await import('./replay-from.ts');
      const from = opts.from === undefined ? undefined : replayFrom(s as never, opts.from);
      if (opts.play) {
        const files = recordingsOf(s.events as never);
        if (!files.length) {
          console.error(`session ${id} has no terminal recording`);
          process.exitCode = 1;
          return;
        }
        const { readCast, seek } = await import('./cast-seek.ts');
        const casts = files.map(readCast);
        let first = 0;
        let fromS = 0;
        if (from) {
          const at = seek(casts, from.from, from.startMs, from.commandTimes);
          if (!at) {
            console.error(`session ${id}: no terminal recording holds ${opts.from}`);
            process.exitCode = 1;
            return;
          }
          ({ index: first, atS: fromS } = at);
        }
        for (let i = first; i < casts.length; i++) await play(casts[i]!, process.stdout, { fromS: i === first ? fromS : 0 });
        return;
      }
      console.log(renderReplay(s, (from ? from.events : s.events) as never));
    });

  const connections = program.command('connections').description('configured connections');
  common(connections.command('list').description('connections (never their credentials)'))
    .option('--json', 'machine-readable output')
    .action(async (opts: BackendOptions & { json?: boolean }) => {
      const rows = await withBackend(opts, (b) => b.connections());
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(table(rows.map((r) => ({ ...r, description: shorten(String(r.description ?? ''), 50) })), ['name', 'type', 'host', 'port', 'database', 'agent', 'groups', 'description']));
    });
}
