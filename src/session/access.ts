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
