// May this identity use that connection? Deny by default: only a group or user the
// connection names lets a caller in.
import type { Identity } from '../identity/types.ts';

export interface AccessList {
  groups: string[];
  users: string[];
}

export interface AccessAnswer {
  allowed: boolean;
  reason: string;
}

export function checkAccess(identity: Identity, connection: { name: string; access: AccessList }): AccessAnswer {
  const { groups, users } = connection.access;
  if (users.includes(identity.name) || users.includes(identity.subject)) return { allowed: true, reason: 'user listed' };
  const group = identity.groups.find((g) => groups.includes(g));
  if (group) return { allowed: true, reason: `group ${group}` };
  const theirs = identity.groups.length ? `groups ${identity.groups.join(', ')}` : 'no groups';
  return { allowed: false, reason: `${identity.name} (${theirs}) is not allowed to use connection "${connection.name}"` };
}

/** Approved time-window access (src/reviews); the answer's `until` ends it. */
export interface GrantLookup {
  activeGrant(identity: Identity, connection: string): Promise<{ id: string; expiresAt: number } | null>;
}

/**
 * The admission check: the connection's lists first, then an approved access request
 * whose window is open now. The session's guard re-checks the window before each command.
 */
export async function checkAccessOrGrant(identity: Identity, connection: { name: string; access: AccessList }, grants?: GrantLookup): Promise<AccessAnswer> {
  const listed = checkAccess(identity, connection);
  if (listed.allowed || !grants) return listed;
  const g = await grants.activeGrant(identity, connection.name);
  if (g) return { allowed: true, reason: `access request ${g.id} approved until ${new Date(g.expiresAt).toISOString()}` };
  return { allowed: false, reason: `${listed.reason}; ask for a time window with \`warden access request ${connection.name} --for 1h --reason ...\`` };
}
