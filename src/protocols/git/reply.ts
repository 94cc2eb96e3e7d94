// Answers the git door writes itself.
import type { ServerResponse } from 'node:http';

/** git shows a text/plain error body to its user (`remote: ...`) */
export function sendText(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message}\n`;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache', ...headers });
  res.end(body);
}

