// Serves the compiled console (web/dist, built by scripts/build.mjs at `npm install`).
// Hashed assets are immutable for a year; index.html is revalidated on every load, so a
// new build reaches browsers at once. The page routes are listed one by one: a catch-all
// would shadow /api, /mcp, /proxy, /git, /metrics and /healthz, or answer their typos
// with HTML instead of a JSON 404.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/** web/dist beside src/ (run from sources) or beside dist/ (compiled): two levels up either way. */
export const CONSOLE_DIR = new URL('../../web/dist/', import.meta.url).pathname;

/** The console's client-side routes; each answers index.html. */
export const CONSOLE_PAGES = ['/', '/login', '/reviews', '/reviews/:id', '/sessions', '/sessions/:id', '/audit', '/connections', '/agents', '/tokens'];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

// The console talks only to this origin; inline styles are Mantine's (style attributes).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  gz?: Buffer;
  type: string;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', CSP);
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  void reply.header('content-type', a.type).header('vary', 'accept-encoding');
  // Compressed once, on first use: the gateway's start does not pay for it.
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && a.body.length > 1024) {
    a.gz ??= gzipSync(a.body);
    return reply.header('content-encoding', 'gzip').send(a.gz);
  }
  return reply.send(a.body);
}

export function mountConsoleStatic(app: FastifyInstance, log: Logger, dir = CONSOLE_DIR): void {
  const index = join(dir, 'index.html');
  const built = existsSync(index);
  if (!built) log.warn({ dir }, 'the web console is not built (run npm run build); / answers how to build it');
  const assets = new Map<string, Asset>();
  if (built && existsSync(join(dir, 'assets'))) {
    for (const name of readdirSync(join(dir, 'assets'))) {
      assets.set(name, { body: readFileSync(join(dir, 'assets', name)), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
  }
  const page: Asset | null = built ? { body: readFileSync(index), type: 'text/html; charset=utf-8' } : null;

  for (const path of CONSOLE_PAGES) {
    app.get(path, async (req, reply) => {
      securityHeaders(reply).header('cache-control', 'no-cache');
      if (!page) return reply.status(503).type('text/plain; charset=utf-8').send('The web console is not built: run `npm install` (or `npm run build`) in the gateway folder.\n');
      return send(req, reply, page);
    });
  }
  app.get('/assets/:name', async (req, reply) => {
    const a = assets.get((req.params as { name: string }).name);
    if (!a) return reply.status(404).send({ error: 'not found' });
    securityHeaders(reply).header('cache-control', 'public, max-age=31536000, immutable');
    return send(req, reply, a);
  });
}
