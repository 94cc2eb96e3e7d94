// The credentials an http connection's gateway mints rather than holds ready-made: an OAuth2
// client-credentials token, a Google service-account token (an access token for Google APIs,
// or an ID token for a Cloud Run audience), and AWS SigV4 signing. Each is its own key under
// `credential:`, so a mistake names the key that is wrong. Values here are secrets: the
// loader never echoes anything under `credential` (load.ts).
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';

const scopes = z.array(z.string().min(1)).min(1, 'at least one scope');

export const oauth2CredentialSchema = z.strictObject({
  /** the IdP's token endpoint (client_credentials grant) */
  tokenUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scopes: scopes.optional(),
  /** sent as `audience` (Auth0, Okta custom servers ask for it) */
  audience: z.string().min(1).optional(),
  /** how the client authenticates: HTTP Basic (RFC 6749 2.3.1, the default) or client_id/client_secret in the form */
  auth: z.enum(['basic', 'body']).default('basic'),
});

/** The fields of a service-account key file Warden uses. */
export interface ServiceAccount {
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  /** where the JWT bearer grant goes (the key file's `token_uri`) */
  tokenUri: string;
}

const keyFile = z.looseObject({
  type: z.literal('service_account', 'expected a service-account key (type: service_account)'),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  token_uri: z.url({ protocol: /^https?$/ }).default('https://oauth2.googleapis.com/token'),
});

/** A key file's JSON text (from `${file:...}`) or the same fields inline; parsed and its key checked at load. */
const serviceAccount = z.union([z.string(), z.record(z.string(), z.unknown())]).transform((v, ctx): ServiceAccount => {
  let raw: unknown = v;
  if (typeof v === 'string') {
    try {
      raw = JSON.parse(v);
    } catch {
      ctx.issues.push({ code: 'custom', message: 'expected the JSON of a service-account key file (e.g. ${file:/path/sa.json})', input: '' });
      return z.NEVER;
    }
  }
  const parsed = keyFile.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) ctx.issues.push({ code: 'custom', message: `${i.path.join('.') || '(key file)'}: ${i.message}`, input: '' });
    return z.NEVER;
  }
  const f = parsed.data;
  try {
    createPrivateKey(f.private_key);
  } catch {
    ctx.issues.push({ code: 'custom', message: 'private_key: not a PEM private key', input: '' });
    return z.NEVER;
  }
  return { clientEmail: f.client_email, privateKey: f.private_key, tokenUri: f.token_uri, ...(f.private_key_id ? { privateKeyId: f.private_key_id } : {}) };
});

export const googleCredentialSchema = z
  .strictObject({
    serviceAccount,
    /** an access token for these scopes (Google APIs) ... */
    scopes: scopes.optional(),
    /** ... or an ID token for this audience (a Cloud Run or IAP-protected URL) */
    audience: z.string().min(1).optional(),
    /** domain-wide delegation: the user the access token acts as */
    subject: z.string().min(1).optional(),
  })
  .refine((g) => (g.scopes === undefined) !== (g.audience === undefined), { message: 'give scopes (an access token) or audience (an ID token), one of the two' });

const awsName = z.string().regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and dashes');

export const awsCredentialSchema = z.strictObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  /** temporary credentials (STS) carry one; sent as x-amz-security-token */
  sessionToken: z.string().min(1).optional(),
  region: awsName,
  /** the signing name of the service (default s3, for S3 and S3-compatible storage) */
  service: awsName.default('s3'),
});

/** Each form by the key that names it, so a mistake is reported against that form's keys. */
const forms = {
  header: z.strictObject({ header: z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), value: z.string().min(1), scheme: z.string().min(1).optional() }),
  query: z.strictObject({ query: z.string().min(1), value: z.string().min(1) }),
  oauth2: z.strictObject({ oauth2: oauth2CredentialSchema }),
  google: z.strictObject({ google: googleCredentialSchema }),
  aws: z.strictObject({ aws: awsCredentialSchema }),
};
type Form = (typeof forms)[keyof typeof forms];

/**
 * The credential an http connection injects: a header (`x-api-key`; `authorization` with a
 * scheme) or a query parameter, or one it mints (oauth2, google, aws). Dispatched by key rather
 * than a zod union, which reports a wrong value inside one form only as "Invalid input".
 */
export const httpCredentialSchema = z.unknown().transform((v, ctx): z.output<Form> => {
  const key = v && typeof v === 'object' ? (Object.keys(forms) as (keyof typeof forms)[]).find((k) => k in v) : undefined;
  if (!key) {
    ctx.issues.push({ code: 'custom', message: 'expected one of: header + value, query + value, oauth2, google, aws', input: '' });
    return z.NEVER;
  }
  const r = (forms[key] as Form).safeParse(v);
  if (r.success) return r.data;
  // the input is left out: it is a secret
  for (const i of r.error.issues) ctx.issues.push({ ...i, input: undefined } as never);
  return z.NEVER;
});

export type OAuth2Credential = z.infer<typeof oauth2CredentialSchema>;
export type GoogleCredential = z.infer<typeof googleCredentialSchema>;
export type AwsCredential = z.infer<typeof awsCredentialSchema>;
