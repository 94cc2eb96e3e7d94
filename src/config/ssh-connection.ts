// `type: ssh` connections: the target's address, the account and key the gateway logs in
// with, and the target's host key, pinned (the gateway refuses a target that shows another).
// The private key is a secret: the loader never echoes a value under a key named *key*.
import { z } from 'zod';
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';

// ssh2 is CommonJS: only some of its names are visible to an ESM named import
const { utils } = ssh2;

/** A public key line as in known_hosts / authorized_keys: `ssh-ed25519 AAAA... [comment]`. */
export interface PinnedKey {
  /** the key's algorithm name (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`) */
  type: string;
  /** the key in SSH wire form (what the target presents in the key exchange) */
  blob: Buffer;
}

/** A key's fingerprint as `ssh-keygen -lf` prints it: SHA256 of its wire blob, base64 unpadded. */
export const sshFingerprint = (blob: Buffer): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

export function parsePublicKeyLine(line: string): PinnedKey | string {
  if (/PRIVATE KEY/.test(line)) return 'a private key: pin the target\'s PUBLIC host key';
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return 'expected the target\'s public key as "<type> <base64>", e.g. the line of /etc/ssh/ssh_host_ed25519_key.pub';
  const parsed = utils.parseKey(`${parts[0]} ${parts[1]}`);
  if (parsed instanceof Error || Array.isArray(parsed)) return `not a public key ssh can read (${parsed instanceof Error ? parsed.message : 'several keys'})`;
  if (parsed.isPrivateKey()) return 'a private key: pin the target\'s PUBLIC host key';
  return { type: parsed.type, blob: parsed.getPublicSSH() };
}

const privateKey = z.string().superRefine((s, ctx) => {
  const k = utils.parseKey(s);
  if (k instanceof Error) ctx.addIssue({ code: 'custom', message: `not a private key ssh can read (${k.message}); give the PEM or OpenSSH key, e.g. \${file:./keys/target_ed25519}` });
  else if (Array.isArray(k) || !k.isPrivateKey()) ctx.addIssue({ code: 'custom', message: 'expected one PRIVATE key (the gateway logs in to the target with it)' });
});

const hostKey = z.string().superRefine((s, ctx) => {
  const k = parsePublicKeyLine(s);
  if (typeof k === 'string') ctx.addIssue({ code: 'custom', message: k });
});

export const sshConnectionFields = {
  type: z.literal('ssh'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  /** the account on the target */
  user: z.string().min(1),
  privateKey,
  /** passphrase of an encrypted privateKey */
  passphrase: z.string().optional(),
  /** the target's public host key (`ssh-ed25519 AAAA...`), pinned: a target showing another key is refused */
  hostKey,
  /**
   * SFTP and SCP: each file moved is recorded (path, size, sha256), never its bytes; one
   * larger than maxBytes (default 1 GiB) is stopped there and recorded as capped.
   */
  fileTransfers: z.strictObject({ maxBytes: z.number().int().min(1).default(1024 ** 3) }).prefault({}),
};
