// A path of an SFTP or SCP operation as rules judge it: absolute, with `.` and `..` folded
// the way they read (lexically; a symlink on the target can still lead elsewhere, as a shell
// command's words can). A relative path is relative to the account's home directory (where
// sftp-server and `scp -t` start): the gateway asks the target once per login (over an SFTP
// channel of its own, so the target needs its sftp subsystem for relative paths).
import { posix } from 'node:path';
import type { Client } from 'ssh2';

const homes = new WeakMap<Client, Promise<string>>();

/** The account's home on the target (its sftp-server's `realpath .`), asked once per login. */
export function homeOf(client: Client): Promise<string> {
  let p = homes.get(client);
  if (!p) {
    p = new Promise<string>((resolve, reject) => {
      client.sftp((err, sftp) => {
        if (err) return reject(new Error(`cannot learn the home directory on the target: ${err.message}`));
        sftp.realpath('.', (e, path) => {
          sftp.end();
          if (e) reject(new Error(`cannot learn the home directory on the target: ${e.message}`));
          else resolve(path);
        });
      });
    });
    p.catch(() => homes.delete(client));
    homes.set(client, p);
  }
  return p;
}

/** Whether a path is a directory on the target (false when it is not there). */
export function isDirectoryOn(client: Client, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    client.sftp((err, sftp) => {
      if (err) return reject(new Error(`cannot look at ${path} on the target: ${err.message}`));
      sftp.stat(path, (e, st) => {
        sftp.end();
        resolve(!e && st.isDirectory());
      });
    });
  });
}

export function absolutePath(path: string, home: string): string {
  const p = posix.normalize(path.startsWith('/') ? path : posix.join(home, path));
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

export const isAbsolute = (path: string): boolean => path.startsWith('/');
