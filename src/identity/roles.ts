// Roles from groups. The IdP (or the API key, or the local user) says which groups a caller
// is in; `auth.roles` says which groups make an admin, an auditor, an approver. Everyone
// else is a plain user, who may only use the connections their groups are allowed.
import type { Identity } from './types.ts';

export type Role = 'admin' | 'auditor' | 'approver' | 'user';

export interface RoleMapping {
  admin: string[];
  auditor: string[];
  approver: string[];
}

export const DEFAULT_ROLES: RoleMapping = { admin: ['admin'], auditor: ['auditor'], approver: ['approver'] };

/** Every role the identity holds; `user` always, and admin implies nothing else by itself (see `hasRole`). */
export function rolesOf(identity: Pick<Identity, 'groups'>, mapping: RoleMapping = DEFAULT_ROLES): Role[] {
  const roles: Role[] = [];
  const inAny = (groups: string[]) => identity.groups.some((g) => groups.includes(g));
  if (inAny(mapping.admin)) roles.push('admin');
  if (inAny(mapping.auditor)) roles.push('auditor');
  if (inAny(mapping.approver)) roles.push('approver');
  roles.push('user');
  return roles;
}

/** Admins may do everything, so an admin passes every role check. */
export function hasRole(identity: Pick<Identity, 'groups'>, role: Role, mapping: RoleMapping = DEFAULT_ROLES): boolean {
  const roles = rolesOf(identity, mapping);
  return roles.includes('admin') || roles.includes(role);
}
