// The `warden` command. Each subcommand is a thin layer over the gateway's services:
// locally (reading --config / ./warden.yaml and the data dir) or, with --gateway or
// WARDEN_GATEWAY, over the HTTP API with WARDEN_TOKEN.
import { Command, Option } from 'commander';
import { ConfigError } from '../config/errors.ts';
import { registerStart } from './start.ts';
import { registerAdmin } from './admin.ts';
import { registerAgent } from './agent.ts';
import { registerAudit } from './audit.ts';
import { registerAuth } from './auth.ts';
import { registerReviews } from './reviews.ts';
import { registerMcp } from './mcp.ts';
import { registerExec } from './exec.ts';
import { registerUsage } from './usage.ts';
import { registerKeys } from './keys.ts';
import { registerGitCredential } from './git-credential.ts';

const program = new Command();
program
  .name('warden')
  .description('Identity-aware access gateway for people and AI agents')
  .version('0.1.0')
  .showHelpAfterError();

registerStart(program);
registerAdmin(program);
registerAudit(program);
registerAgent(program);
registerAuth(program);
registerReviews(program);
registerMcp(program);
registerExec(program);
registerUsage(program);
registerKeys(program);
registerGitCredential(program);

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
