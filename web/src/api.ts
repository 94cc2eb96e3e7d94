// Calls to the gateway's API with the session cookie. Every write carries the console's
// header: without it the gateway refuses a cookie-authenticated write (CSRF).
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export const LOGGED_OUT = 'warden:logged-out';

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'x-warden-console': '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  // The session ended (expired, revoked, logged out elsewhere): the shell shows the login again.
  if (res.status === 401 && path !== '/auth/session') window.dispatchEvent(new Event(LOGGED_OUT));
  if (!res.ok) throw new ApiError(res.status, (data as { error?: string } | null)?.error ?? `HTTP ${res.status}`);
  return data as T;
}

export const get = <T,>(path: string) => api<T>('GET', path);
export const post = <T,>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const del = <T,>(path: string) => api<T>('DELETE', path);

export type Role = 'admin' | 'auditor' | 'approver' | 'user';
export interface Me {
  kind: string;
  subject: string;
  name: string;
  groups: string[];
  roles: Role[];
}

export interface Review {
  id: string;
  kind: 'command' | 'access';
  status: string;
  connection: string;
  command: string | null;
  params: (string | null)[] | null;
  commandHash: string | null;
  reason: string;
  rule: string | null;
  requester: { kind: string; subject: string; name: string; groups: string[] };
  sessionId: string | null;
  groups: string[];
  approvalsNeeded: number;
  approvals: number;
  votes: { voter: string; vote: 'approve' | 'reject'; comment: string | null; at: string }[];
  durationMs: number | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
}

export interface SessionRow {
  id: string;
  connection: string;
  protocol: string;
  identityName: string;
  clientAddr: string;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  commands: number;
  matchSeq: number | null;
}

export interface StoredEvent {
  seq: number;
  ts: string;
  type: string;
  actor: string | null;
  data: Record<string, unknown>;
}

export const has = (me: Me | null, role: Role) => !!me && (me.roles.includes('admin') || me.roles.includes(role));
