// Listener addresses of warden.yaml (`gateway.listen.*`, "host:port" or "[v6]:port").

export function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

/** Where a client on this machine reaches a listener bound to `host` (a wildcard bind means loopback). */
export function localHostFor(host: string): string {
  return host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
}
