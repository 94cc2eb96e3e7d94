// The tool surface: list_connections, describe_connection, run, explain, review_status,
// wait_for_review, request_access. Statements go through the in-process executor (admission,
// the pipeline and the connection's engine, as the caller); review questions go to the review
// desk as the caller.
// Descriptions are terse on purpose: tools/list is paid for in every agent's context.
import { z } from 'zod';
import { McpServer, inputRequired, type CallToolResult, type InputRequiredResult } from '@modelcontextprotocol/server';
import type { Identity } from '../identity/types.ts';
import { ReviewError, type ReviewDesk } from '../reviews/desk.ts';
import type { Review } from '../reviews/types.ts';
import { parseDuration } from '../config/duration.ts';
import { classifierFor } from '../policy/guard.ts';
import type { Detail, QueryCaps } from '../protocols/engine.ts';
import type { ExecOutcome, ExecRefusal, InProcessExecutor } from '../gateway/executor.ts';
import type { ExecRunner } from '../protocols/exec/runner.ts';
import { runCommand } from './run-command.ts';
import { refusalText } from './refusals.ts';
import { runOutput, runOutputSchema, runText } from './results.ts';
import { DESCRIBE_LIMIT, describeText, namePattern } from './describe.ts';

/** The catalogue query of a connection's engine; null when there is no such connection. */
export type DescribeQuery = (connection: string, detail: Detail, pattern: string, limit: number) => { sql: string; params: unknown[] } | null;

export interface ToolDeps {
  identity: Identity;
  /** what ties stateless MCP requests into one recorded session (the caller's credential) */
  sessionKey: string;
  /** the caller's address, for the record */
  clientAddr: string;
  executor: InProcessExecutor;
  /** commands of exec connections (run with argv) */
  runner: ExecRunner;
  describe: DescribeQuery;
  desk: ReviewDesk;
  connections(who: Identity): Record<string, unknown>[];
  caps: QueryCaps;
  /** what the caller's rules allow, for the run tool's annotations (informative only) */
  hints: { readOnly: boolean; destructive: boolean };
}

const text = (t: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(isError ? { isError: true } : {}) });
const conn = z.string().describe('connection name (list_connections)');

export function buildMcpServer(d: ToolDeps, info: { name: string; version: string }): McpServer {
  const server = new McpServer(info, { capabilities: { tools: {} } });

  type Rows = Extract<ExecOutcome, { ok: true }>;
  const exec = (connection: string, sql: string, params?: unknown[]): Promise<ExecOutcome> =>
    d.executor.run({ identity: d.identity, connection, sql, params, caps: d.caps, frontDoor: 'mcp', clientAddr: d.clientAddr, sessionKey: d.sessionKey });
  const failed = (r: ExecRefusal, connection: string): CallToolResult => text(refusalText(r, connection), true);
  const isRows = (r: ExecOutcome): r is Rows => r.ok;

  server.registerTool('list_connections', {
    description: 'Connections you may use, with type and description.',
    annotations: { readOnlyHint: true },
  }, async () => {
    const list = d.connections(d.identity).map((c) => ({ name: c.name as string, type: c.type as string, description: (c.description as string | null) ?? null }));
    const lines = list.map((c) => `${c.name} (${c.type})${c.description ? `: ${c.description}` : ''}`);
    return { content: [{ type: 'text', text: lines.join('\n') || 'No connections: ask for access with request_access.' }], structuredContent: { connections: list } };
  });

  server.registerTool('describe_connection', {
    description: 'Schemas, tables, columns and types. detail: names | summary (columns per table) | full (types, nullability, defaults). filter: table name substring or LIKE pattern.',
    inputSchema: z.object({ connection: conn, detail: z.enum(['names', 'summary', 'full']).default('summary'), filter: z.string().optional() }),
    annotations: { readOnlyHint: true },
  }, async ({ connection, detail, filter }) => {
    const q = d.describe(connection, detail, namePattern(filter), DESCRIBE_LIMIT + 1);
    if (!q && d.connections(d.identity).some((c) => c.name === connection && c.type === 'exec')) return text(`"${connection}" is an exec connection: it has no tables; call run with argv (the arguments of its program).`, true);
    if (!q) return failed({ kind: 'unknown_connection', message: `no connection named "${connection}"` }, connection);
    const r = await exec(connection, q.sql, q.params);
    if (!isRows(r)) return failed(r.refusal, connection);
    return text(describeText(detail, r.result.rows).text);
  });

  server.registerTool('run', {
    description: 'Run one SQL statement (sql) on a database connection, or one command (argv: its arguments) on an exec connection, through Warden: policy may block it or hold it for human review; output is masked and capped.',
    inputSchema: z.object({ connection: conn, sql: z.string().min(1).optional(), argv: z.array(z.string()).optional().describe('exec connections: the arguments after the connection\'s program') }),
    outputSchema: runOutputSchema,
    annotations: { readOnlyHint: d.hints.readOnly, destructiveHint: d.hints.destructive, openWorldHint: false },
  }, async ({ connection, sql, argv }, ctx): Promise<CallToolResult | InputRequiredResult> => {
    if ((sql === undefined) === (argv === undefined)) return text('Give either sql (database connections) or argv (exec connections).', true);
    const o = argv !== undefined
      ? await runCommand({ runner: d.runner, identity: d.identity, connection, argv, clientAddr: d.clientAddr, maxBytes: d.caps.maxBytes, signal: ctx.mcpReq.signal })
      : await exec(connection, sql!);
    if ('content' in o) return o;
    if (isRows(o)) {
      const out = runOutput(o.result, o.maskedColumns);
      return { content: [{ type: 'text', text: runText(out, o.result.command, d.caps) }], structuredContent: out };
    }
    const r = o.refusal;
    if (r.kind !== 'review') return failed(r, connection);
    // Held: nothing ran. A client that can show its user a prompt is asked to send them to the
    // approver; whatever the answer, the statement only runs on a later identical `run` after
    // an approver approved it (the desk hands an approval out exactly once).
    const review = await d.desk.get(d.identity, r.reviewId);
    const where = d.desk.approveHow(r.reviewId);
    const caps = server.server.getClientCapabilities()?.elicitation;
    const asked = ctx.mcpReq.inputResponses?.review !== undefined;
    if (caps && !asked && review?.status === 'pending') {
      const message = `Warden is holding a statement on "${connection}" for review ${r.reviewId}. An approver (${review.groups.join(', ')}) must approve it: ${where.cli}, or POST ${where.api}. Nothing runs until then.`;
      const ask = caps.url
        ? inputRequired.elicitUrl({ message, url: where.api })
        : inputRequired.elicit({ message, requestedSchema: { type: 'object', properties: { seen: { type: 'boolean', title: 'I have asked an approver' } } } });
      return inputRequired({ inputRequests: { review: ask } });
    }
    return held(r.reviewId, r.message, review, where);
  });

  server.registerTool('explain', {
    description: 'The plan of a SQL statement (EXPLAIN without ANALYZE: nothing is executed).',
    inputSchema: z.object({ connection: conn, sql: z.string().min(1) }),
    annotations: { readOnlyHint: true },
  }, async ({ connection, sql }) => {
    const stmt = sql.trim().replace(/;\s*$/, '');
    // One statement, judged on the real parser: `select 1; delete ...` would otherwise
    // run its second statement under the cover of EXPLAIN.
    const type = d.connections(d.identity).find((c) => c.name === connection)?.type;
    // only SQL engines explain (an http connection has a classifier too, of request lines)
    const classify = type === 'postgres' || type === 'mysql' || type === undefined ? classifierFor(String(type ?? 'postgres')) : undefined;
    if (!classify) return text(`explain is for SQL connections; "${connection}" is not one.`, true);
    const parsed = classify({ text: stmt });
    if (parsed.error || parsed.statements.length !== 1) return text('explain takes exactly one SQL statement.', true);
    if (parsed.statements[0]!.kind === 'explain') return text('Pass the statement itself, without EXPLAIN; ANALYZE is never used here.', true);
    const r = await exec(connection, `EXPLAIN ${stmt}`);
    if (!isRows(r)) return failed(r.refusal, connection);
    return text(r.result.rows.map((row) => row.map((v) => v ?? 'NULL').join('\t')).join('\n'));
  });

  server.registerTool('review_status', {
    description: 'Status of a review (pending, approved, rejected, expired, used).',
    inputSchema: z.object({ review: z.string() }),
    annotations: { readOnlyHint: true },
  }, async ({ review }) => {
    const r = await d.desk.get(d.identity, review);
    return r ? reviewResult(r, d.desk) : text(`No review ${review} that you may see.`, true);
  });

  server.registerTool('wait_for_review', {
    description: 'Wait until a review is decided or the timeout passes (seconds, max 120).',
    inputSchema: z.object({ review: z.string(), timeout: z.number().int().min(1).max(120).default(30) }),
    annotations: { readOnlyHint: true },
  }, async ({ review, timeout }, ctx) => {
    const deadline = Date.now() + timeout * 1000;
    let r = await d.desk.get(d.identity, review);
    while (r?.status === 'pending' && Date.now() < deadline && !ctx.mcpReq.signal.aborted) {
      await new Promise((res) => setTimeout(res, Math.min(500, Math.max(deadline - Date.now(), 0))));
      r = await d.desk.get(d.identity, review);
    }
    return r ? reviewResult(r, d.desk) : text(`No review ${review} that you may see.`, true);
  });

  server.registerTool('request_access', {
    description: 'Ask approvers for a time window of access to a connection (duration e.g. 30m, 2h).',
    inputSchema: z.object({ connection: conn, duration: z.string(), reason: z.string().min(1) }),
    annotations: { readOnlyHint: false, destructiveHint: false },
  }, async ({ connection, duration, reason }) => {
    try {
      const r = await d.desk.requestAccess(d.identity, connection, parseDuration(duration), reason);
      const how = d.desk.approveHow(r.id);
      return text(`Access request ${r.id} created (pending): an approver (${r.groups.join(', ')}) acts with \`${how.cli}\` or POST ${how.api}. Check it with review_status or wait_for_review.`);
    } catch (e) {
      return text(e instanceof ReviewError || e instanceof Error ? e.message : String(e), true);
    }
  });

  return server;
}

function held(id: string, message: string, review: Review | null, where: { cli: string; api: string }): CallToolResult {
  const status = review?.status ?? 'pending';
  const body = [
    `NOT RUN: Warden held this statement for human review ${id} (${status}). ${message}`,
    `An approver acts with \`${where.cli}\` or POST ${where.api}.`,
    'Call wait_for_review, then call run again with the identical statement: it runs once after approval.',
  ];
  return { content: [{ type: 'text', text: body.join('\n') }], isError: true, _meta: { 'warden/review': { id, status, approveUrl: where.api } } };
}

function reviewResult(r: Review, desk: ReviewDesk): CallToolResult {
  const how = desk.approveHow(r.id);
  const next: Record<string, string> = {
    pending: `waiting for ${r.approvalsNeeded - r.approvals} more approval(s) from ${r.groups.join(', ')}: ${how.cli}`,
    approved: r.kind === 'command' ? 'approved: call run again with the identical statement; it runs once' : 'approved: the access window is open',
    rejected: 'rejected: do not retry the same statement',
    expired: 'expired without a decision: run the statement again to ask anew',
    used: 'approved and already used',
  };
  const line = `review ${r.id} (${r.kind} on ${r.connection}): ${r.status}; ${next[r.status]}`;
  return { content: [{ type: 'text', text: line }], structuredContent: { id: r.id, kind: r.kind, status: r.status, connection: r.connection, approvals: r.approvals, approvalsNeeded: r.approvalsNeeded, expiresAt: r.expiresAt } };
}
