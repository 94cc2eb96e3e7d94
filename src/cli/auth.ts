// `warden login` / `logout` / `whoami` and `warden users`: the CLI side of identity.
// `login` asks the gateway how to log in (/api/v1/auth/config), so `--gateway` is all a
// user needs: with an IdP, the auth code + PKCE flow in a browser (or `--device`); in
// local mode, a local user's name and password for a gateway token.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import type { LoginConfig } from '../identity/login.ts';
import { saveCredentials, loadCredentials } from '../identity/login-store.ts';
import { GATEWAY_TOKEN_ISSUER } from '../identity/gateway-token.ts';
import type { Services } from '../gateway/services.ts';

// The OIDC client and the store are imported when a command needs them (main.ts).
const oidc = () => import('../identity/login.ts');
async function localServices(configFile: string | undefined): Promise<Services> {
  const [{ loadConfig }, { openServices }] = await Promise.all([import('../config/load.ts'), import('../gateway/services.ts')]);
  return openServices(loadConfig(configFile).config, { writer: true, cli: true });
}
import { gatewayToken } from './backend.ts';
import { table } from './render.ts';
import { gatewayCall } from './gateway-http.ts';

const gatewayOpt = () => new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)');

async function api(gateway: string, method: string, path: string, body?: unknown, token?: string): Promise<Record<string, unknown>> {
  return (await gatewayCall(gateway, method, path, { body, token }))!;
}

/** A secret from stdin (`--password-stdin`) or a prompt that does not echo. */
async function readSecret(fromStdin: boolean, prompt: string): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  process.stderr.write(prompt);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

const needGateway = (g?: string): string => {
  const url = g ?? process.env.WARDEN_GATEWAY;
  if (!url) throw new Error('--gateway URL (or WARDEN_GATEWAY) is required');
  return url;
};

export function registerAuth(program: Command): void {
  program
    .command('login')
    .description('log in to a gateway: browser (auth code + PKCE), --device for headless machines, or --local with a local user')
    .addOption(gatewayOpt())
    .option('--device', 'device code flow: print a code to enter on another device')
    .option('--local', 'local mode: a local user name and password (no identity provider)')
    .option('--username <name>', 'local user name (with --local)')
    .option('--password-stdin', 'read the password from stdin (with --local)')
    .option('--no-browser', 'only print the login URL')
    .action(async (opts: { gateway?: string; device?: boolean; local?: boolean; username?: string; passwordStdin?: boolean; browser: boolean }) => {
      const gateway = needGateway(opts.gateway);
      const cfg = await api(gateway, 'GET', '/api/v1/auth/config');
      if (opts.local || cfg.mode === 'local') {
        if (cfg.mode !== 'local') throw new Error('this gateway uses an identity provider: run `warden login` without --local');
        const username = opts.username ?? process.env.USER;
        if (!username) throw new Error('--username is required');
        const password = await readSecret(Boolean(opts.passwordStdin), `password for ${username}: `);
        const t = await api(gateway, 'POST', '/api/v1/auth/login', { username, password });
        const now = Date.now();
        saveCredentials({ version: 1, issuer: GATEWAY_TOKEN_ISSUER, clientId: 'local', accessToken: String(t.access_token), expiresAt: now + Number(t.expires_in) * 1000, obtainedAt: now, gateway });
        console.error(`logged in as ${username} (local user); the token expires in ${Math.round(Number(t.expires_in) / 60)} min`);
        return;
      }
      const login: LoginConfig = {
        issuer: String(cfg.issuer),
        clientId: String(cfg.clientId),
        ...(Array.isArray(cfg.scopes) ? { scope: (cfg.scopes as string[]).join(' ') } : {}),
        ...(cfg.authParams ? { authParams: cfg.authParams as Record<string, string> } : {}),
      };
      const { loginWithDevice, loginWithBrowser } = await oidc();
      const creds = opts.device
        ? await loginWithDevice(login, {
            onCode: (c) => console.error(`To log in, open ${c.verificationUriComplete ?? c.verificationUri} and enter the code ${c.userCode}`),
          })
        : await loginWithBrowser(login, {
            openBrowser: opts.browser,
            onUrl: (url) => console.error(`Open this URL to log in (if no browser opened):\n  ${url}`),
          });
      saveCredentials({ ...creds, gateway });
      const me = await api(gateway, 'GET', '/api/v1/whoami', undefined, creds.accessToken);
      console.error(`logged in as ${String(me.name)} (groups: ${(me.groups as string[]).join(', ') || 'none'})`);
    });

  program
    .command('logout')
    .description('forget the stored login (and revoke the refresh token at the identity provider)')
    .action(async () => {
      const c = loadCredentials();
      const cfg = c && c.issuer !== GATEWAY_TOKEN_ISSUER ? { issuer: c.issuer, clientId: c.clientId } : undefined;
      if (c?.issuer === GATEWAY_TOKEN_ISSUER && c.gateway) await api(c.gateway, 'POST', '/api/v1/auth/revoke', { token: c.accessToken }).catch(() => {});
      console.error((await (await oidc()).logout(cfg)) ? 'logged out' : 'not logged in');
    });

  program
    .command('whoami')
    .description('who the stored login (or WARDEN_TOKEN) is; with --gateway, as the gateway sees it')
    .addOption(gatewayOpt())
    .option('--json', 'machine-readable output')
    .action(async (opts: { gateway?: string; json?: boolean }) => {
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY ?? loadCredentials()?.gateway;
      const me = gateway ? await api(gateway, 'GET', '/api/v1/whoami', undefined, await gatewayToken()) : ((await oidc()).whoami() as Record<string, unknown> | null);
      if (!me) throw new Error('not logged in (run `warden login --gateway URL`)');
      if (opts.json) return console.log(JSON.stringify(me, null, 2));
      console.log(`${String(me.name)} (${String(me.kind ?? 'user')})\ngroups: ${(me.groups as string[]).join(', ') || 'none'}${me.roles ? `\nroles: ${(me.roles as string[]).join(', ')}` : ''}`);
    });

  const users = program.command('users').description('local users (local mode, no identity provider)');
  users
    .command('add <name>')
    .description('create a local user (or reset its password and groups)')
    .option('--groups <list>', 'comma-separated groups', '')
    .option('--password-stdin', 'read the password from stdin')
    .option('-c, --config <file>', 'config file for local use')
    .addOption(gatewayOpt())
    .action(async (name: string, opts: { groups: string; passwordStdin?: boolean; config?: string; gateway?: string }) => {
      const groups = opts.groups.split(',').map((g) => g.trim()).filter(Boolean);
      const password = await readSecret(Boolean(opts.passwordStdin), `new password for ${name}: `);
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
      if (gateway) await api(gateway, 'POST', '/api/v1/users', { name, password, groups }, await gatewayToken());
      else {
        const s = await localServices(opts.config);
        try {
          await s.addUser(name, password, groups, `cli:${process.env.USER ?? 'local'}`);
        } finally {
          await s.close();
        }
      }
      console.error(`user ${name} saved (groups: ${groups.join(', ') || 'none'})`);
    });
  users
    .command('disable <name>')
    .description('disable a local user: its logins stop working and the tokens it logged in with are revoked, open sessions included')
    .option('-c, --config <file>', 'config file for local use')
    .addOption(gatewayOpt())
    .action(async (name: string, opts: { config?: string; gateway?: string }) => {
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
      if (gateway) await api(gateway, 'DELETE', `/api/v1/users/${encodeURIComponent(name)}`, undefined, await gatewayToken());
      else {
        const s = await localServices(opts.config);
        try {
          if (!(await s.disableUser(name, `cli:${process.env.USER ?? 'local'}`))) throw new Error(`no enabled local user named "${name}"`);
        } finally {
          await s.close();
        }
      }
      console.error(`user ${name} disabled`);
    });
  users
    .command('list')
    .description('local users')
    .option('--json', 'machine-readable output')
    .option('-c, --config <file>', 'config file for local use')
    .addOption(gatewayOpt())
    .action(async (opts: { json?: boolean; config?: string; gateway?: string }) => {
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
      let rows: Record<string, unknown>[];
      if (gateway) rows = (await api(gateway, 'GET', '/api/v1/users', undefined, await gatewayToken())) as unknown as Record<string, unknown>[];
      else {
        const s = await localServices(opts.config);
        try {
          rows = (await s.listUsers()) as unknown as Record<string, unknown>[];
        } finally {
          await s.close();
        }
      }
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no local users');
      console.log(table(rows.map((r) => ({ ...r, createdAt: new Date(Number(r.createdAt)).toISOString() })), ['name', 'groups', 'createdAt', 'disabledAt']));
    });
}
