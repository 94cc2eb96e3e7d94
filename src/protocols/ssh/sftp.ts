// The `sftp` subsystem (and modern `scp`, which speaks SFTP): opening it is judged as the
// command `(sftp)`; then the target's own sftp-server is opened over the gateway's login and
// the SFTP v3 packets pass both ways unchanged, read on the way. Every request that names a
// path is judged like a shell command of its words (`get /p`, `put /p`, `ls /p`, `rm /p`,
// `rename /a /b`, `mkdir`, `rmdir`, `setstat`, `symlink`, `link`) before it is sent; a refused
// one is answered with STATUS permission denied and never reaches the target. Reads and
// writes go only to handles the target gave this channel, each file opened is a transfer
// recorded at its CLOSE (path, direction, bytes, sha256; see transfer.ts), and one that goes
// past the connection's cap is stopped with STATUS failure. Metadata reads (stat, realpath,
// readlink, readdir of an opened directory) pass unjudged; any other request or extension is
// refused (fail closed). A malformed or oversized packet closes the channel.
import type { ClientChannel, ServerChannel } from 'ssh2';
import { endWith, EXIT_UNREACHABLE, refuseOnChannel, upstreamFor, type ChannelContext } from './exec.ts';
import { SftpRelay } from './sftp-relay.ts';

/**
 * An exec that runs the target's sftp-server itself (`sftp -s /usr/lib/openssh/sftp-server`):
 * the same SFTP, read the same way, so a file cannot pass unjudged by naming the server. Its
 * options (a start directory, read-only...) are not read: such an exec is refused (a string).
 */
export function sftpServerExec(argvs: string[][] | string): boolean | string {
  if (typeof argvs === 'string') return false;
  const at = argvs.findIndex((argv) => argv[0]!.split('/').pop() === 'sftp-server');
  if (at === -1) return false;
  return argvs.length === 1 && argvs[0]!.length === 1 ? true : 'sftp-server with options or other commands';
}

/** `command`: an exec of the target's sftp-server (sftpServerExec) in place of the subsystem. */
export async function runSftp(ctx: ChannelContext, ch: ServerChannel, command?: string): Promise<void> {
  const started = Date.now();
  // rules see the word `sftp` (and the server's path when an exec names it)
  const decision = await ctx.session.command(command ? { text: `(sftp) ${command}`, via: 'exec' } : { text: '(sftp)', via: 'sftp' });
  if (decision.action !== 'allow') return refuseOnChannel(ch, decision);
  const client = await upstreamFor(ctx, ch, decision.commandId, started);
  if (!client) return;
  const open = (cb: (err: Error | undefined, up: ClientChannel) => void) => (command ? client.exec(command, cb) : client.subsys('sftp', cb));
  open((err, up) => {
    if (err) {
      const message = `the target refused its sftp subsystem: ${err.message}`;
      ctx.session.result(decision.commandId, { rowCount: 0, error: { message }, durationMs: Date.now() - started });
      return endWith(ch, `warden: ${message}\n`, EXIT_UNREACHABLE);
    }
    new SftpRelay(ctx, ch, up, client, decision.commandId, started).start();
  });
}
