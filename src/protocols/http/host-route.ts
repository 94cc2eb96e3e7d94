// The host-based form of the proxy: with `gateway.proxyDomain: proxy.example.com`, a request
// for `claude.proxy.example.com` is the request `/proxy/claude<its path>`, so a client whose
// base URL cannot carry a path prefix reaches a connection by name alone. The choice is made
// on the URL before routing (fastify's rewriteUrl), so such a request can only ever reach the
// proxy: whatever its path, never the API, the console, /mcp or the agent tunnel. A Host
// under the domain that is not exactly one DNS label plus the domain is refused, as is a
// request target that is not a path; any other Host (the gateway's own name, an address)
// is routed as before.
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** Where a refused host-form request is routed: a route that only refuses (mountHostRefusal). */
export const HOST_REFUSED = '/.warden/host-refused';

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The rewriteUrl for a proxy domain: `/path` on `<label>.<domain>` -> `/proxy/<label>/path`. */
export function proxyHostRewrite(domain: string): (req: IncomingMessage) => string {
  const suffix = `.${domain.toLowerCase().replace(/\.$/, '')}`;
  return (req) => {
    const url = req.url ?? '/';
    const host = (req.headers.host ?? '').trim().toLowerCase();
    // a name, an optional trailing dot, an optional port; anything else naming the domain is refused
    const m = /^([a-z0-9.-]+?)\.?(?::\d{1,5})?$/.exec(host);
    if (!m) return host.includes(suffix) ? HOST_REFUSED : url;
    const name = m[1]!;
    if (!name.endsWith(suffix)) return url;
    const label = name.slice(0, -suffix.length);
    // an absolute-form or asterisk target would name its own authority: not a path on this host
    if (!LABEL.test(label) || !url.startsWith('/')) return HOST_REFUSED;
    return `/proxy/${label}${url}`;
  };
}

/** The route refused host-form requests land on; it answers before any handler (so before a WebSocket upgrade). */
export function mountHostRefusal(app: FastifyInstance, domain: string): void {
  const message = `warden: a host under ${domain} must be <connection>.${domain}`;
  app.all(HOST_REFUSED, {
    onRequest: async (_req, reply) => reply.code(400).header('connection', 'close').send({ type: 'error', error: { type: 'invalid_request_error', message } }),
  }, async () => undefined);
}
