// `warden audit ...`: verify the chain (locally, through a gateway, or an export file
// offline against a pinned key), export it, print the public key to pin, and adopt a
// chain from before signed heads that does not verify on its own (seal).
// The commands are declared here; what they do is in audit-actions.ts, loaded when one
// runs, so that `warden --help` loads no store or crypto (main.ts).
import type { Command } from 'commander';
import { common } from './admin.ts';
import type { VerifyFlags } from './audit-actions.ts';

const collect = (v: string, all: string[]) => [...all, v];
const actions = () => import('./audit-actions.ts');

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  common(audit.command('verify').description('check the hash chain and its signed heads; exit 0 only when intact, else name the first broken event'))
    .option('--json', 'machine-readable output')
    .option('--public-key <file|PEM>', "trust only this public key (default: gateway.audit.publicKey, else the data dir's key)")
    .option('--export <file>', 'verify an export (`warden audit export`) offline, with no store or data dir; needs a public key')
    .option('--heads <file>', "a copy of signed heads kept elsewhere (a sink's audit-heads.jsonl) the chain must contain; repeatable", collect, [])
    .action(async (opts: VerifyFlags) => {
      const { verify, describeResult } = await actions();
      const r = await verify(opts);
      if (opts.json) console.log(JSON.stringify(r, null, 2));
      else if (r.ok) console.log(describeResult(r));
      else console.error(describeResult(r));
      process.exitCode = r.ok ? 0 : 1;
    });

  audit
    .command('export <file>')
    .description('write the chain (events, signed heads) as JSON lines, for `audit verify --export` elsewhere')
    .option('-c, --config <file>', 'config file (default: ./warden.yaml when present)')
    .action(async (file: string, opts: { config?: string }) => (await actions()).exportTo(file, opts));

  audit
    .command('public-key')
    .description('print the audit public key (PEM) to pin in gateway.audit.publicKey or give to `audit verify --public-key`')
    .option('-c, --config <file>', 'config file (default: ./warden.yaml when present)')
    .action(async (opts: { config?: string }) => (await actions()).printPublicKey(opts));

  audit
    .command('seal')
    .description('adopt a chain written before signed heads that does not verify on its own (say, its gateway stopped without closing): sign a first head over it as it is')
    .option('-c, --config <file>', 'config file (default: ./warden.yaml when present)')
    .action(async (opts: { config?: string }) => (await actions()).seal(opts));
}
