// The gateway's own SSH host key: made on the first start and kept in the data dir, so
// callers who pinned it in known_hosts keep trusting the same gateway after a restart.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

const { utils } = ssh2;

export interface GatewayHostKey {
  /** the private key in OpenSSH form (what ssh2's server takes) */
  private: string;
  /** `ssh-ed25519 AAAA... warden` (what callers pin) */
  public: string;
}

export function loadOrCreateHostKey(dataDir: string): GatewayHostKey {
  const keyFile = join(dataDir, 'ssh_host_ed25519_key');
  const pubFile = `${keyFile}.pub`;
  if (existsSync(keyFile)) {
    const priv = readFileSync(keyFile, 'utf8');
    const k = utils.parseKey(priv);
    if (k instanceof Error || Array.isArray(k)) throw new Error(`${keyFile}: not a key the SSH door can use (${k instanceof Error ? k.message : 'several keys'})`);
    return { private: priv, public: `${k.type} ${k.getPublicSSH().toString('base64')} warden` };
  }
  const pair = utils.generateKeyPairSync('ed25519', { comment: 'warden' });
  writeFileSync(keyFile, pair.private, { mode: 0o600 });
  writeFileSync(pubFile, `${pair.public}\n`);
  return { private: pair.private, public: pair.public };
}
