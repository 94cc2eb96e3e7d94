// The `auth` section of warden.yaml: who may prove identity how, which groups make
// which role, how long gateway tokens live and how hard failed logins are limited.
// Kept apart from schema.ts so the identity settings read as one block.
import { z } from 'zod';
import { parseDuration } from './duration.ts';

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      try {
        return parseDuration(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

export const oidcSchema = z.strictObject({
  /** issuer URL exactly as the IdP writes it in `iss`; discovery is <issuer>/.well-known/openid-configuration */
  issuer: z.url(),
  /** the client id at the IdP: used by `warden login` and the gateway's browser login */
  clientId: z.string().min(1),
  /** only for the gateway's browser login when the IdP treats it as a confidential client */
  clientSecret: z.string().optional(),
  /** accepted `aud` of access tokens (the API's resource / audience) */
  audience: z.string().min(1),
  /** claim that carries the groups; a dotted path reaches nested claims. Default `groups`. */
  groupsClaim: z.string().min(1).default('groups'),
  /** scopes the logins ask for. Default `openid profile email offline_access`. */
  scopes: z.array(z.string().min(1)).optional(),
  /** extra authorization parameters (e.g. `resource` or Auth0's `audience`) */
  authParams: z.record(z.string(), z.string()).optional(),
});

export const rolesSchema = z
  .strictObject({
    /** groups whose members may do everything */
    admin: z.array(z.string().min(1)).default(['admin']),
    /** groups whose members read sessions and the audit log */
    auditor: z.array(z.string().min(1)).default(['auditor']),
    /** groups whose members decide reviews */
    approver: z.array(z.string().min(1)).default(['approver']),
  })
  .prefault({});

export const rateLimitSchema = z
  .strictObject({
    /** sliding window over which failed authentications are counted */
    window: duration('1m'),
    /** failures from one source address within the window before it is refused */
    perSource: z.number().int().min(1).default(20),
    /** failures for one account name within the window before it is refused */
    perAccount: z.number().int().min(1).default(10),
  })
  .prefault({});

export const authSchema = z
  .strictObject({
    /** an OpenID Connect provider; absent: local mode (API keys and local users) */
    oidc: oidcSchema.optional(),
    roles: rolesSchema,
    /** lifetime of gateway tokens from /api/v1/auth/token and logins (max 24h) */
    gatewayTokenTtl: duration('1h').refine((ms) => ms <= 24 * 3_600_000, 'at most 24h'),
    rateLimit: rateLimitSchema,
    /** how often a replica picks up revocations made by other replicas or the CLI */
    revocationPoll: duration('5s'),
    /** an open session ends at its first command after its access token expired (false: a session lives as long as its connection) */
    endSessionsOnExpiry: z.boolean().default(true),
    /** the URL browsers reach the gateway at (the browser login's redirect); default: from the request's Host */
    publicUrl: z.url().optional(),
    /** mark the browser-login cookie Secure (default true; false only for plain-http development) */
    secureCookie: z.boolean().default(true),
  })
  .prefault({});

export type AuthConfig = z.infer<typeof authSchema>;
export type OidcConfig = z.infer<typeof oidcSchema>;
export type RolesConfig = z.infer<typeof rolesSchema>;
