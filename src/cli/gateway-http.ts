// How CLI commands talk to a running gateway's HTTP API: one place for the request, the
// JSON answer, and the errors people read ("cannot reach the gateway at ...",
// "gateway answered 403: ...").

export interface GatewayReply {
  status: number;
  statusText: string;
  ok: boolean;
  /** the JSON body ({} when there is none or it does not parse) */
  body: Record<string, unknown>;
  headers: Headers;
}

/** One request; only a network failure throws (naming the gateway). */
export async function gatewayRequest(base: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<GatewayReply> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body ? { 'content-type': 'application/json' } : {}) },
      body: opts.body ? JSON.stringify(opts.body) : undefined,
    });
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${base}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { cause: e });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, statusText: res.statusText, ok: res.ok, body, headers: res.headers };
}

/** gatewayRequest for a call that must succeed: the body, or null for a 404 when `nullOn404`; else an error with the gateway's reason. */
export async function gatewayCall(base: string, method: string, path: string, opts: { token?: string; body?: unknown; nullOn404?: boolean } = {}): Promise<Record<string, unknown> | null> {
  const r = await gatewayRequest(base, method, path, opts);
  if (r.status === 404 && opts.nullOn404) return null;
  if (!r.ok) throw new Error(`gateway answered ${r.status}: ${String(r.body.error ?? r.statusText)}`);
  return r.body;
}
