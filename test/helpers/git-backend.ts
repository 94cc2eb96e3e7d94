// A Git remote for tests: `git http-backend` (the CGI program git ships) behind a local node
// HTTP server that demands one Basic credential (the one the gateway must inject) and keeps
// every request it got, so a test can prove what reached the remote and with which
// Authorization. Repositories are bare repos under a temp dir, pushes enabled.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GIT_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitSeen {
  method: string;
  url: string;
  authorization: string | undefined;
}

export interface GitBackend {
  url: string;
  root: string;
  seen: GitSeen[];
  /** a new bare repository `<name>.git`, pushes allowed */
  createRepo(name: string): string;
  /** the id a ref points to in a bare repo, null when absent */
  refOf(repo: string, ref: string): string | null;
  close(): Promise<void>;
}

/** The environment real `git` runs in for tests: no user or system config, never a prompt. */
export function gitEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_ASKPASS: '', SSH_ASKPASS: '',
    GIT_AUTHOR_NAME: 'Tester', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 'Tester', GIT_COMMITTER_EMAIL: 't@example.com', LANG: 'C', ...extra,
  };
}

/** `v0Only`: the remote ignores the Git-Protocol header, as servers that speak only protocol v0 do */
export async function startGitBackend(cred: { username: string; password: string }, opts: { v0Only?: boolean } = {}): Promise<GitBackend> {
  const root = mkdtempSync(join(tmpdir(), 'warden-git-remote-'));
  const home = mkdtempSync(join(tmpdir(), 'warden-git-remote-home-'));
  const env = gitEnv(home);
  const expected = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
  const seen: GitSeen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="remote"', 'content-type': 'text/plain' });
      res.end('remote: wrong credential\n');
      return;
    }
    const [path, query = ''] = (req.url ?? '/').split(/\?(.*)/s, 2) as [string, string?];
    const cgi = spawn(GIT_BACKEND, [], {
      env: {
        ...env, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', REMOTE_USER: cred.username, REMOTE_ADDR: '127.0.0.1',
        PATH_INFO: decodeURIComponent(path), QUERY_STRING: query, REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] !== undefined ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(typeof req.headers['git-protocol'] === 'string' && !opts.v0Only ? { GIT_PROTOCOL: req.headers['git-protocol'] } : {}),
      },
      // its complaints (a v0-only remote asked in v2) are answers the tests read, not noise to print
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => {});
    // CGI output: header lines, an empty line, then the body (streamed)
    let head = Buffer.alloc(0);
    const onHead = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n') >= 0 ? head.indexOf('\r\n\r\n') + 4 : head.indexOf('\n\n') >= 0 ? head.indexOf('\n\n') + 2 : -1;
      if (end < 0) return;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const m = /^([^:]+):\s*(.*)$/.exec(line);
        if (!m) continue;
        if (m[1]!.toLowerCase() === 'status') status = Number(m[2]!.split(' ')[0]);
        else headers[m[1]!.toLowerCase()] = m[2]!;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end));
      // the body streams with backpressure (a large clone is not held in memory)
      cgi.stdout.off('data', onHead);
      cgi.stdout.pipe(res);
    };
    cgi.stdout.on('data', onHead);
    cgi.on('close', () => {
      if (!res.headersSent) {
        res.writeHead(500);
        res.end();
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    root,
    seen,
    createRepo: (name) => {
      const dir = join(root, `${name}.git`);
      execFileSync('git', ['init', '-q', '--bare', '-b', 'main', dir], { env });
      execFileSync('git', ['-C', dir, 'config', 'http.receivepack', 'true'], { env });
      execFileSync('git', ['-C', dir, 'config', 'receive.advertisePushOptions', 'true'], { env });
      return dir;
    },
    refOf: (repo, ref) => {
      try {
        return execFileSync('git', ['-C', join(root, `${repo}.git`), 'rev-parse', '--verify', '-q', ref], { env, encoding: 'utf8' }).trim() || null;
      } catch {
        return null;
      }
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      rmSync(root, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    },
  };
}
