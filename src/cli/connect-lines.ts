// The lines `warden start` prints for people to paste: psql to the demo and the MCP client
// setup, each minting its token with `npx warden token create`. They must work pasted as
// printed in any POSIX shell: no variable that may be unset ($USER), no placeholder the
// shell would read as a redirection (`<groups>`), and a config path quoted when it needs it
// and absolute, so the token lands in the gateway's own store.
import { userInfo } from 'node:os';
import { resolve } from 'node:path';

/** A name for the printed token commands, written out ($USER may be unset). */
export function callerName(): string {
  try {
    const name = userInfo().username;
    if (/^[A-Za-z0-9._-]+$/.test(name)) return name;
  } catch {
    // no passwd entry for this uid (containers): a plain name will do
  }
  return 'me';
}

/** A word for a POSIX shell: as is when it is plain, else in single quotes. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ConnectInfo {
  /** the --config given to start, if any */
  config?: string;
  cwd?: string;
  pg?: { host: string; port: number };
  httpUrl: string;
  demo: boolean;
  /** the connections' access groups, for the agent's token when there is no demo */
  groups: string[];
}

export function connectLines(i: ConnectInfo): string[] {
  const cfg = i.config ? ` --config ${shellWord(resolve(i.cwd ?? process.cwd(), i.config))}` : '';
  const lines: string[] = [];
  if (i.demo && i.pg) {
    lines.push(
      '',
      'Connect to the demo database with psql:',
      `  psql "host=${i.pg.host} port=${i.pg.port} user=demo dbname=demo password=$(npx warden token create${cfg} --name ${callerName()} --groups demo --ttl 8h)"`,
      'then try:  SELECT name, email, card_number FROM customers LIMIT 5;',
      '',
      'Review what happened:  npx warden sessions list   then   npx warden sessions show <id>',
    );
  }
  if (i.pg) {
    const groups = i.demo ? 'demo' : [...new Set(i.groups)].filter((g) => /^[A-Za-z0-9._-]+$/.test(g)).join(',');
    lines.push('', 'Give an AI agent (Claude Code) the same connections through MCP:');
    if (!groups) lines.push('  (no connection names a group in access.groups yet: give the token the groups of the connections it may use)');
    lines.push(`  claude mcp add --transport http warden ${i.httpUrl}/mcp --header "Authorization: Bearer $(npx warden token create${cfg} --name agent${groups ? ` --groups ${groups}` : ''} --ttl 8h)"`);
  }
  return lines;
}
