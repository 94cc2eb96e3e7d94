// `warden reviews list|show|approve|reject` and `warden access request`. Remotely (the
// usual way: --gateway / WARDEN_GATEWAY with your token) you act as yourself; locally
// (--config, holding the data dir) you act as the operator, who counts as a member of
// every approver group but can still never approve a review of their own.
import { Option, type Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import type { Identity } from '../identity/types.ts';
import type { Review, ReviewKind, ReviewStatus } from '../reviews/types.ts';
import { gatewayToken } from './backend.ts';
import { shorten, table } from './render.ts';
import { gatewayCall } from './gateway-http.ts';

interface Opts {
  config?: string;
  gateway?: string;
  json?: boolean;
}

interface ReviewsBackend {
  list(q: { status?: ReviewStatus; kind?: ReviewKind; limit: number }): Promise<Review[]>;
  show(id: string): Promise<Review | null>;
  vote(id: string, vote: 'approve' | 'reject', comment: string | null): Promise<Review>;
  requestAccess(connection: string, duration: string, reason: string): Promise<Review & { approve?: { cli: string; api: string } }>;
  close(): Promise<void>;
}

async function remote(base: string): Promise<ReviewsBackend> {
  const token = await gatewayToken();
  const call = (method: string, path: string, body?: unknown): Promise<unknown> => gatewayCall(base, method, path, { token, body, nullOn404: method === 'GET' });
  return {
    list: (q) => {
      const p = new URLSearchParams({ limit: String(q.limit), ...(q.status ? { status: q.status } : {}), ...(q.kind ? { kind: q.kind } : {}) });
      return call('GET', `/api/v1/reviews?${p}`) as Promise<Review[]>;
    },
    show: (id) => call('GET', `/api/v1/reviews/${encodeURIComponent(id)}`) as Promise<Review | null>,
    vote: (id, vote, comment) => call('POST', `/api/v1/reviews/${encodeURIComponent(id)}/${vote}`, { comment }) as Promise<Review>,
    requestAccess: (connection, duration, reason) => call('POST', '/api/v1/access-requests', { connection, duration, reason }) as Promise<Review>,
    close: async () => {},
  };
}

async function local(configFile: string | undefined): Promise<ReviewsBackend> {
  // The store and the desk (the gateway's services) and the config loader are imported only for local use (main.ts).
  const [{ loadConfig }, { openServices }] = await Promise.all([import('../config/load.ts'), import('../gateway/services.ts')]);
  const { config } = loadConfig(configFile);
  const s = await openServices(config, { writer: true, cli: true });
  const desk = await s.reviewDesk();
  const user = `local:${process.env.USER ?? 'operator'}`;
  const operator: Identity = { kind: 'user', subject: user, name: user, groups: [] };
  return {
    list: (q) => desk.list(operator, q, { operator: true }),
    show: (id) => desk.get(operator, id, { operator: true }),
    vote: (id, vote, comment) => desk.vote(id, operator, vote, comment, { operator: true }),
    requestAccess: () => Promise.reject(new Error('an access request is made as yourself: use --gateway URL (or WARDEN_GATEWAY) with your token')),
    close: async () => {
      await desk.close();
      await s.close();
    },
  };
}

async function withReviews<T>(opts: Opts, fn: (b: ReviewsBackend) => Promise<T>): Promise<T> {
  const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
  const b = gateway ? await remote(gateway) : await local(opts.config);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

const common = (c: Command) =>
  c.option('-c, --config <file>', 'config file for local use (default: ./warden.yaml when present)').addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)')).option('--json', 'machine-readable output');

function summary(r: Review): string {
  const what = r.kind === 'access' ? `access to ${r.connection} for ${Math.round((r.durationMs ?? 0) / 60_000)} min: ${r.reason}` : `${r.connection}: ${shorten(r.command ?? '', 80)}`;
  return `review ${r.id} ${r.status} (${r.approvals}/${r.approvalsNeeded} approvals) — ${what}`;
}

function detail(r: Review): string {
  const lines = [
    `review ${r.id}  ${r.kind}  ${r.status.toUpperCase()}`,
    `  connection   ${r.connection}`,
    `  requester    ${r.requester.name} (${r.requester.subject})`,
    `  approvers    ${r.groups.join(', ')}  (${r.approvals}/${r.approvalsNeeded} approvals)`,
    `  created      ${r.createdAt}   expires ${r.expiresAt}${r.decidedAt ? `   decided ${r.decidedAt}` : ''}${r.usedAt ? `   used ${r.usedAt}` : ''}`,
    `  reason       ${r.reason}`,
  ];
  if (r.rule) lines.push(`  rule         ${r.rule}`);
  if (r.durationMs !== null) lines.push(`  window       ${Math.round(r.durationMs / 60_000)} min from approval`);
  if (r.command !== null) lines.push('  command', ...r.command.split('\n').map((l) => `    ${l}`));
  if (r.params?.length) lines.push(`  params       ${JSON.stringify(r.params)}`);
  for (const v of r.votes) lines.push(`  ${v.vote === 'approve' ? 'approved' : 'rejected'} by ${v.voter} at ${v.at}${v.comment ? `: ${v.comment}` : ''}`);
  return lines.join('\n');
}

export function registerReviews(program: Command): void {
  const reviews = program.command('reviews').description('just-in-time approval: held commands and access requests');
  common(reviews.command('list').description('reviews you may see, newest first'))
    .option('--status <status>', 'pending | approved | rejected | expired | used')
    .option('--kind <kind>', 'command | access')
    .option('--limit <n>', 'how many', '50')
    .action(async (opts: Opts & { status?: ReviewStatus; kind?: ReviewKind; limit: string }) => {
      const rows = await withReviews(opts, (b) => b.list({ status: opts.status, kind: opts.kind, limit: Number(opts.limit) }));
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no reviews');
      console.log(table(rows.map((r) => ({ ...r, requester: r.requester.name, approvals: `${r.approvals}/${r.approvalsNeeded}`, what: r.kind === 'access' ? `access ${Math.round((r.durationMs ?? 0) / 60_000)}m: ${shorten(r.reason, 50)}` : shorten(r.command ?? '', 60) })), ['id', 'kind', 'status', 'connection', 'requester', 'approvals', 'expiresAt', 'what']));
    });
  common(reviews.command('show <id>').description('one review: the exact command, who asked, who voted'))
    .action(async (id: string, opts: Opts) => {
      const r = await withReviews(opts, (b) => b.show(id));
      if (!r) {
        console.error(`no review ${id}`);
        process.exitCode = 1;
        return;
      }
      console.log(opts.json ? JSON.stringify(r, null, 2) : detail(r));
    });
  for (const vote of ['approve', 'reject'] as const) {
    common(reviews.command(`${vote} <id>`).description(vote === 'approve' ? 'approve a review (never your own)' : 'reject a review (or withdraw your own)'))
      .option('--comment <text>', 'why; kept with the vote and in the audit log')
      .action(async (id: string, opts: Opts & { comment?: string }) => {
        const r = await withReviews(opts, (b) => b.vote(id, vote, opts.comment ?? null));
        console.log(opts.json ? JSON.stringify(r, null, 2) : summary(r));
      });
  }

  const access = program.command('access').description('time-window access to a connection');
  common(access.command('request <connection>').description('ask approvers for access to a connection for a while'))
    .requiredOption('--for <duration>', 'how long, e.g. 1h (from approval)')
    .requiredOption('--reason <text>', 'why you need it (shown to approvers)')
    .action(async (connection: string, opts: Opts & { for: string; reason: string }) => {
      parseDuration(opts.for); // a clear local error before any request goes out
      const r = await withReviews(opts, (b) => b.requestAccess(connection, opts.for, opts.reason));
      if (opts.json) return console.log(JSON.stringify(r, null, 2));
      console.log(summary(r));
      console.log(`approvers (${r.groups.join(', ')}): warden reviews approve ${r.id}${r.approve ? `  or POST ${r.approve.api}` : ''}`);
    });
}
