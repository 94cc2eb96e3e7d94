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

type KeyPair = { private: string; public: string };
const generateEd25519 = (): KeyPair => utils.generateKeyPairSync('ed25519', { comment: 'warden' });

/**
 * `generate`: made for the tests. ssh2's generator writes an OpenSSH key that its own
 * parser refuses ("Malformed OpenSSH private key") about 3 times in 1000 (measured), and
 * a first start would then fail: a pair is kept only once it reads back.
 */
export function loadOrCreateHostKey(dataDir: string, generate: () => KeyPair = generateEd25519): GatewayHostKey {
  const keyFile = join(dataDir, 'ssh_host_ed25519_key');
  const pubFile = `${keyFile}.pub`;
  if (existsSync(keyFile)) {
    const priv = readFileSync(keyFile, 'utf8');
    const k = utils.parseKey(priv);
    if (k instanceof Error || Array.isArray(k)) throw new Error(`${keyFile}: not a key the SSH door can use (${k instanceof Error ? k.message : 'several keys'})`);
    return { private: priv, public: `${k.type} ${k.getPublicSSH().toString('base64')} warden` };
  }
  let pair = generate();
  for (let tries = 1; !readsBack(pair); tries++) {
    if (tries === 10) throw new Error('could not make an SSH host key that reads back (10 tries)');
    pair = generate();
  }
  writeFileSync(keyFile, pair.private, { mode: 0o600 });
  writeFileSync(pubFile, `${pair.public}\n`);
  return { private: pair.private, public: pair.public };
}

function readsBack(pair: KeyPair): boolean {
  const k = utils.parseKey(pair.private);
  return !(k instanceof Error) && !Array.isArray(k);
}
