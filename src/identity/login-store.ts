// Where `warden login` keeps its tokens: one JSON file in the user's config dir, mode 0600
// (the directory 0700), written atomically so a crash never leaves half a file.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface StoredCredentials {
  version: 1;
  issuer: string;
  clientId: string;
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
  /** access token expiry, ms since epoch (absent when the IdP did not say) */
  expiresAt?: number;
  scope?: string;
  obtainedAt: number;
  /** the gateway this login was made through (`warden login --gateway`) */
  gateway?: string;
}

/** `$XDG_CONFIG_HOME/warden/credentials.json`, else `~/.config/...`, `%APPDATA%\warden\...` on Windows. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME ||
    (process.platform === 'win32' && env.APPDATA ? env.APPDATA : join(env.HOME || homedir(), '.config'));
  return join(base, 'warden', 'credentials.json');
}

export function saveCredentials(creds: StoredCredentials, path: string = credentialsPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  // mode applies at creation; the umask can only narrow it, never widen.
  writeFileSync(tmp, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The stored login, or null when there is none or it is unreadable (treated as logged out). */
export function loadCredentials(path: string = credentialsPath()): StoredCredentials | null {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const c = JSON.parse(raw) as Partial<StoredCredentials>;
    if (c.version !== 1 || typeof c.accessToken !== 'string' || typeof c.issuer !== 'string') return null;
    return c as StoredCredentials;
  } catch {
    return null;
  }
}

export function deleteCredentials(path: string = credentialsPath()): boolean {
  try {
    rmSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
