// Secrets the gateway keeps in its data dir, made on first use with owner-only access.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** 32 random bytes under `name`, created once (exclusive create, so replicas starting together agree). */
export function dataDirSecret(dataDir: string, name: string): Buffer {
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    try {
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

/** Key of the masking `hash` style: equal values hash alike across sessions and restarts. */
export const maskingKey = (dataDir: string) => dataDirSecret(dataDir, 'masking-key');

/** Key sealing the originals of masked values; WARDEN_ORIGINALS_KEY (base64, 32 bytes) keeps it off the data dir. */
export function originalsKey(dataDir: string, env = process.env): Buffer {
  const fromEnv = env.WARDEN_ORIGINALS_KEY;
  if (fromEnv) {
    const k = Buffer.from(fromEnv, 'base64');
    if (k.length !== 32) throw new Error('WARDEN_ORIGINALS_KEY must be 32 bytes, base64-encoded');
    return k;
  }
  return dataDirSecret(dataDir, 'originals-key');
}
