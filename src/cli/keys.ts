// `warden keys add|list|remove`: SSH public keys registered to you at a gateway, so that
// `ssh -p 2222 <connection>@<gateway>` logs you in with your key instead of your token.
// Always remote (--gateway / WARDEN_GATEWAY with your token): a key belongs to who registers it.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { gatewayToken } from './backend.ts';
import { gatewayCall } from './gateway-http.ts';
import { table } from './render.ts';

interface Opts {
  gateway?: string;
  json?: boolean;
}

const gatewayOpt = () => new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)');

async function call(opts: Opts, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = opts.gateway ?? process.env.WARDEN_GATEWAY;
  if (!base) throw new Error('warden keys needs a gateway: --gateway URL or WARDEN_GATEWAY');
  return gatewayCall(base, method, path, { token: await gatewayToken(), body });
}

function readKey(file: string | undefined): string {
  if (file === '-') return readFileSync(0, 'utf8');
  return readFileSync(file ?? join(homedir(), '.ssh', 'id_ed25519.pub'), 'utf8');
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('SSH public keys registered to you (ssh logins without the token)');
  keys
    .command('add [file]')
    .description('register a public key (a .pub file, - for stdin; default ~/.ssh/id_ed25519.pub)')
    .option('--ttl <duration>', 'lifetime, e.g. 7d (default 30d for people, at most 90d; none for API keys)')
    .option('--json', 'machine-readable output')
    .addOption(gatewayOpt())
    .action(async (file: string | undefined, opts: Opts & { ttl?: string }) => {
      const k = (await call(opts, 'POST', '/api/v1/ssh-keys', { publicKey: readKey(file), ...(opts.ttl ? { ttl: opts.ttl } : {}) })) as Record<string, unknown>;
      if (opts.json) return console.log(JSON.stringify(k, null, 2));
      console.log(`registered ${String(k.fingerprint)}${k.expiresAt ? ` until ${String(k.expiresAt)}` : ''}`);
    });
  keys
    .command('list')
    .description('your registered keys (--all: everyone\'s, admins)')
    .option('--json', 'machine-readable output')
    .option('--all', 'everyone\'s keys (admin)')
    .addOption(gatewayOpt())
    .action(async (opts: Opts & { all?: boolean }) => {
      const rows = (await call(opts, 'GET', `/api/v1/ssh-keys${opts.all ? '?all=true' : ''}`)) as Record<string, unknown>[];
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no ssh keys registered');
      console.log(table(rows.map((r) => ({ ...r, owner: (r.owner as { name: string }).name })), ['fingerprint', 'comment', 'owner', 'boundTo', 'createdAt', 'expiresAt']));
    });
  keys
    .command('remove <fingerprint>')
    .description('remove a registered key (SHA256:...); sessions logged in with it end')
    .addOption(gatewayOpt())
    .action(async (fingerprint: string, opts: Opts) => {
      await call(opts, 'DELETE', `/api/v1/ssh-keys/${encodeURIComponent(fingerprint)}`);
      console.log(`removed ${fingerprint}`);
    });
}
