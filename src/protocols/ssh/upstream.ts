// The gateway's own SSH session to the target: over the connection's dialed stream (the
// embedded or a remote agent), with the key the gateway holds, and only to a target that
// shows the pinned host key. A target that shows another key gets nothing: the key exchange
// is abandoned before any authentication is sent.
import type { Duplex } from 'node:stream';
import { Client } from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { parsePublicKeyLine, sshFingerprint as fingerprint, type PinnedKey } from '../../config/ssh-connection.ts';

export class SshUpstreamError extends Error {}

/** The host-key algorithms that present a key of the pinned type (an RSA key signs with SHA-2 or SHA-1). */
function hostKeyAlgorithms(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}

/** Why a logged-in upstream connection failed (a socket error: the agent's tunnel died, the target reset it), once it has. */
const lost = new WeakMap<Client, string>();
export function upstreamLost(client: Client): string | undefined {
  return lost.get(client);
}

export function connectUpstream(stream: Duplex, c: SshConnectionConfig, timeoutMs = 20_000): Promise<Client> {
  const pinned = parsePublicKeyLine(c.hostKey) as PinnedKey;
  return new Promise((resolve, reject) => {
    const client = new Client();
    let mismatch: string | null = null;
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      client.end();
      stream.destroy();
      reject(e);
    };
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    // once logged in, an error ends the connection ('close' follows); it must never go unheard
    client.on('error', (e) => {
      if (settled && !lost.has(client)) lost.set(client, e.message);
      fail(new SshUpstreamError(mismatch ?? `the target refused the gateway's login or failed: ${e.message}`));
    });
    client.once('close', () => fail(new SshUpstreamError(mismatch ?? 'the target closed the connection during the login')));
    client.connect({
      sock: stream,
      username: c.user,
      privateKey: c.privateKey,
      passphrase: c.passphrase,
      readyTimeout: timeoutMs,
      algorithms: { serverHostKey: hostKeyAlgorithms(pinned.type) as never },
      hostVerifier: (key: Buffer) => {
        if (key.equals(pinned.blob)) return true;
        mismatch = `the target's host key (${fingerprint(key)}) is not the pinned hostKey of connection "${c.name}" (${fingerprint(pinned.blob)}): refused, nothing was sent`;
        return false;
      },
    });
  });
}
