// `warden git-credential`: a git credential helper that hands git the caller's Warden token
// (WARDEN_TOKEN or the stored login) as the password for the gateway's git door:
//   git config --global credential.helper '!warden git-credential'
// git runs it with `get`, `store` or `erase` and the request on stdin (`protocol=`, `host=`,
// ... up to an empty line). Only `get` answers, and only for the gateway's own scheme and
// host (--gateway or WARDEN_GATEWAY): a helper set for every host never gives the token to
// another one. `store` and `erase` do nothing (the token is not git's to keep).
import { Option, type Command } from 'commander';
import { gatewayToken } from './backend.ts';

export function registerGitCredential(program: Command): void {
  program
    .command('git-credential <action>')
    .description('git credential helper: gives git your Warden token for the gateway (git config credential.helper \'!warden git-credential\')')
    .addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)'))
    .action(async (action: string, opts: { gateway?: string }) => {
      const input = await readStdin();
      if (action !== 'get') return;
      const base = opts.gateway ?? process.env.WARDEN_GATEWAY;
      if (!base) {
        process.stderr.write('warden git-credential: set WARDEN_GATEWAY or --gateway so the token goes to the gateway only\n');
        return;
      }
      const gw = new URL(base);
      const asked = parse(input);
      if (`${asked.protocol}:` !== gw.protocol || asked.host?.toLowerCase() !== gw.host.toLowerCase()) return;
      const token = await gatewayToken();
      process.stdout.write(`username=${asked.username || 'warden'}\npassword=${token}\n`);
    });
}

function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1).replace(/\r$/, '');
  }
  return out;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  let text = '';
  for await (const c of process.stdin) {
    text += String(c);
    // git ends the request with an empty line and may keep the pipe open
    if (/\n\n$|^\n$/.test(text)) break;
  }
  return text;
}
