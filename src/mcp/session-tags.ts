// Which recorded Warden session an MCP database connection is. The MCP server connects to
// the gateway's Postgres door with `application_name=warden-mcp <tag>`; the gateway notes
// the session it opens for that tag, so a `run` can report which columns the pipeline
// masked (the result record of that session holds them) without a second masking pass.
import type { Store } from '../store/index.ts';

const PREFIX = 'warden-mcp ';

export class McpSessionTags {
  private readonly byTag = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly audit: { flush(): Promise<unknown> },
  ) {}

  /** Called by the gateway for every session it opens. */
  noteOpened(applicationName: string | undefined, sessionId: string): void {
    if (applicationName?.startsWith(PREFIX)) this.byTag.set(applicationName.slice(PREFIX.length), sessionId);
  }

  forget(tag: string): void {
    this.byTag.delete(tag);
  }

  sessionId(tag: string): string | undefined {
    return this.byTag.get(tag);
  }

  /** The masked columns of the newest result recorded in the tagged session. */
  async maskedColumns(tag: string): Promise<string[]> {
    const id = this.byTag.get(tag);
    if (!id) return [];
    await this.audit.flush();
    const row = await this.store.db.selectFrom('events').select('data').where('session_id', '=', id).where('type', '=', 'result').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!row) return [];
    const data = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as { maskedColumns?: unknown };
    return Array.isArray(data.maskedColumns) ? (data.maskedColumns as string[]) : [];
  }
}
