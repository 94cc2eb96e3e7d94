// The `warden` command. Each subcommand is a thin layer over the gateway's services:
// locally (reading --config / ./warden.yaml and the data dir) or, with --gateway or
// WARDEN_GATEWAY, over the HTTP API with WARDEN_TOKEN.
import { Command, Option } from 'commander';
import { ConfigError } from '../config/load.ts';
import { registerStart } from './start.ts';
import { registerAdmin } from './admin.ts';
import { registerAgent } from './agent.ts';

const program = new Command();
program
  .name('warden')
  .description('Identity-aware access gateway for people and AI agents')
  .version('0.1.0')
  .showHelpAfterError();

registerStart(program);
registerAdmin(program);
(await import('./audit.ts')).registerAudit(program);
registerAgent(program);
(await import('./auth.ts')).registerAuth(program);
(await import('./reviews.ts')).registerReviews(program);
(await import('./mcp.ts')).registerMcp(program);
(await import('./exec.ts')).registerExec(program);

export const gatewayOption = () => new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY; local data dir when unset)');

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(2);
  }
  console.error(`warden: ${(e as Error).message}`);
  process.exit(1);
}
