// `warden agent` runs a remote agent; `warden agents add|list|revoke` manage agent tokens
// (API keys named after the agent, with the group "warden-agent").
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Services } from '../gateway/services.ts';
import { AGENT_GROUP } from '../tunnel/agents.ts';
import { openBackend, type BackendOptions } from './backend.ts';
import { table } from './render.ts';
import { gatewayCall } from './gateway-http.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const common = (c: Command) =>
  c.option('-c, --config <file>', 'config file for local use (default: ./warden.yaml when present)').addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)'));

/** Admin calls to a running gateway (--gateway or WARDEN_GATEWAY, with WARDEN_TOKEN). */
async function remote(gateway: string, method: string, path: string): Promise<unknown> {
  const token = process.env.WARDEN_TOKEN;
  if (!token) throw new Error('WARDEN_TOKEN is not set (an admin access token for the gateway)');
  return gatewayCall(gateway, method, path, { token });
}

// The agent, the store and the config loader are imported when a command needs them (main.ts).
async function local<T>(opts: BackendOptions, fn: (s: Services) => Promise<T>): Promise<T> {
  const [{ loadConfig }, { openServices }] = await Promise.all([import('../config/load.ts'), import('../gateway/services.ts')]);
  const s = await openServices(loadConfig(opts.config).config, { writer: true, cli: true });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a remote agent: dials out to the gateway and carries its connections to targets in this network')
    .addOption(new Option('--gateway <url>', 'gateway URL, e.g. https://warden.example.com').env('WARDEN_GATEWAY'))
    .addOption(new Option('--token <token>', 'agent token (from `warden agents add <name>`)').env('WARDEN_AGENT_TOKEN'))
    .addOption(new Option('--log-level <level>', 'log level').default('info').env('WARDEN_LOG_LEVEL'))
    .option('--no-exec', 'refuse to run commands of exec connections on this machine (only relay connections)')
    .action(async (opts: { gateway?: string; token?: string; logLevel: string; exec: boolean }) => {
      if (!opts.gateway) throw new Error('--gateway (or WARDEN_GATEWAY) is required');
      if (!opts.token) throw new Error('--token (or WARDEN_AGENT_TOKEN) is required');
      const [{ default: pino }, { WardenAgent }] = await Promise.all([import('pino'), import('../agent/agent.ts')]);
      const log = pino({ level: opts.logLevel });
      const agent = new WardenAgent({ gateway: opts.gateway, token: opts.token, version: VERSION, log, exec: opts.exec }).start();
      log.info({ gateway: opts.gateway, version: VERSION }, 'agent starting');
      const stop = (signal: string) => {
        log.info({ signal }, 'agent shutting down');
        void agent.stop();
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      await agent.finished;
      process.exit(0);
    });

  const agents = program.command('agents').description('remote agents and their tokens');
  common(agents.command('add <name>').description('create an agent token; prints the token alone on stdout'))
    .action(async (name: string, opts: BackendOptions) => {
      if (!AGENT_NAME.test(name)) throw new Error(`agent name "${name}" must be letters, digits, ".", "_" or "-" (up to 63)`);
      if (name === 'embedded') throw new Error('"embedded" is the in-process agent; choose another name');
      const b = await openBackend(opts);
      try {
        const t = await b.createToken({ name, groups: [AGENT_GROUP], ttlMs: null });
        process.stdout.write(t.token + '\n');
      } finally {
        await b.close();
      }
    });

  common(agents.command('list').description('agents: connected or not, last seen, version, streams open'))
    .option('--json', 'machine-readable output')
    .action(async (opts: BackendOptions & { json?: boolean }) => {
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
      // Live status lives in the running gateway; locally only the tokens are known.
      const rows = gateway
        ? ((await remote(gateway, 'GET', '/api/v1/agents')) as Record<string, unknown>[])
        : await local(opts, async (s) => {
            const { listApiKeys } = await import('../store/api-keys.ts');
            const keys = (await listApiKeys(s.store)).filter((k) => k.groups.includes(AGENT_GROUP));
            return keys.map((k) => ({ name: k.name, status: 'unknown (ask the gateway: --gateway)', lastSeen: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : null }));
          });
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return console.log('no agents yet (create one with: warden agents add <name>)');
      console.log(table(rows, ['name', 'status', 'lastSeen', 'version', 'hostname', 'streams', 'tunnels']));
    });

  common(agents.command('revoke <name>').description("revoke the agent's tokens; a connected agent is dropped at its next heartbeat"))
    .action(async (name: string, opts: BackendOptions) => {
      const gateway = opts.gateway ?? process.env.WARDEN_GATEWAY;
      if (gateway) {
        const r = (await remote(gateway, 'DELETE', `/api/v1/agents/${encodeURIComponent(name)}`)) as { revoked: number };
        return console.log(`revoked ${r.revoked} token(s) of agent "${name}"`);
      }
      const n = await local(opts, async (s) => {
        const { listApiKeys } = await import('../store/api-keys.ts');
        const keys = (await listApiKeys(s.store)).filter((k) => k.name === name && k.groups.includes(AGENT_GROUP));
        for (const k of keys) await s.revokeToken(k.id, `cli:${process.env.USER ?? 'local'}`);
        return keys.length;
      });
      if (n === 0) {
        console.error(`no agent named "${name}"`);
        process.exitCode = 1;
      } else console.log(`revoked ${n} token(s) of agent "${name}"`);
    });
}
