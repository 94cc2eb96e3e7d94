// The two local pieces of a browser login: a loopback listener that receives the
// redirect (RFC 8252 §7.3), and a best-effort "open the browser" that only tries when a
// browser can plausibly be shown.
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface LoopbackListener {
  redirectUri: string;
  /** resolves with the full callback URL (…/callback?code=…&state=…) of the first matching request */
  callback: Promise<URL>;
  close(): void;
}

const DONE_PAGE =
  '<!doctype html><meta charset="utf-8"><title>Warden</title><p>Login complete. You can close this window and return to the terminal.</p>';

/** Listen on 127.0.0.1 (never 0.0.0.0: the code must not be reachable from the network). */
export async function startLoopbackListener(opts: { port?: number; expectedState: string; timeoutMs?: number }): Promise<LoopbackListener> {
  let resolve!: (u: URL) => void;
  let reject!: (e: Error) => void;
  const callback = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Only the redirect carrying our state ends the wait: stray requests (favicon, a
    // port scanner, a forged redirect) are answered and ignored.
    if (url.pathname !== '/callback' || url.searchParams.get('state') !== opts.expectedState) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(DONE_PAGE);
    resolve(new URL(`${redirectUri}${url.search}`));
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(opts.port ?? 0, '127.0.0.1', () => res());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const timer = setTimeout(() => reject(new Error('login timed out waiting for the browser')), opts.timeoutMs ?? 300_000);
  const close = (): void => {
    clearTimeout(timer);
    server.closeAllConnections();
    server.close();
  };
  void callback.then(close, close);
  return { redirectUri, callback, close };
}

function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Which command would open a URL here, or undefined on a headless machine. */
export function browserOpener(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] | undefined {
  if (platform === 'darwin') return onPath('open', env) ? ['open'] : undefined;
  if (platform === 'win32') return ['cmd', '/c', 'start', '""'];
  // Linux and friends: no display, no browser (an SSH session must get the URL only).
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return undefined;
  return onPath('xdg-open', env) ? ['xdg-open'] : undefined;
}

/** Try to open `url`; returns whether a browser command was started. Never throws. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const cmd = browserOpener(env);
  if (!cmd) return false;
  try {
    const child = spawn(cmd[0], [...cmd.slice(1), url], { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
