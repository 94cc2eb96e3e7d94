// The token of an `Authorization: Bearer <token>` header, the one way every HTTP front
// door (API, auth routes, reviews, agent tunnel, MCP) reads a caller's credential.
export function bearerToken(authorization: string | undefined): string | null {
  if (!authorization) return null;
  return /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] ?? null;
}
