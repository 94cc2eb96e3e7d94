// The shape of warden.yaml. Every key has its default next to it; the loader turns
// zod's issues into "key.path: reason" lines so a mistake names the key.
import { z } from 'zod';
import { rulesSchema } from '../policy/rule-schema.ts';
import { maskingConfigSchema, connectionMaskingSchema } from '../masking/config.ts';
import { authSchema, duration } from './auth-schema.ts';
import { auditConfigSchema } from '../audit/config.ts';
import { reviewsConfigSchema, connectionReviewsSchema } from '../reviews/config.ts';
import { httpCredentialSchema } from './http-credentials.ts';
import { sshConnectionFields } from './ssh-connection.ts';
import { gitConnectionFields } from './git-connection.ts';
import { execConnectionFields, checkCredentialFileRefs } from './exec-connection.ts';
import { llmBudgetSchema } from '../usage/budget-config.ts';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:15432');

const tlsFiles = z.strictObject({
  cert: z.string().describe('PEM certificate (path or inline PEM)'),
  key: z.string().describe('PEM private key (path or inline PEM)'),
});

export const recordingSchema = z
  .strictObject({
    /** strict: a command is stored before it reaches the target; async: stored soon after. */
    mode: z.enum(['strict', 'async']).default('strict'),
    /** rows of each result kept in the record */
    maxRows: z.number().int().min(0).default(1000),
    /** bytes of row data of each result kept in the record */
    maxBytes: z.number().int().min(0).default(1024 * 1024),
    /** no longer used (a head is signed with every group commit, see gateway.audit); accepted so older configs load */
    checkpointEvery: z.number().int().min(1).optional(),
  })
  .prefault({});

/** The MCP server at /mcp (src/mcp). */
export const mcpSchema = z
  .strictObject({
    /** browser Origins allowed besides loopback (full origins or hostnames); others get 403 */
    allowedOrigins: z.array(z.string().min(1)).default([]),
    /** the resource identifier advertised in the protected-resource metadata (default: <http URL>/mcp) */
    resource: z.string().min(1).optional(),
    /** rows, bytes (of values) and time of one `run` result given to an agent */
    maxRows: z.number().int().min(1).default(500),
    maxBytes: z.number().int().min(1024).default(256 * 1024),
    statementTimeout: z.string().default('30s'),
    /** an agent's database connection closes after this long without a call */
    idleTimeout: z.string().default('5m'),
  })
  .prefault({});

export const gatewaySchema = z
  .strictObject({
    dataDir: z.string().default('./warden-data'),
    /** `sqlite` (file in dataDir) or a postgres:// URL */
    store: z
      .string()
      .refine((s) => s === 'sqlite' || /^postgres(ql)?:\/\//.test(s), 'expected "sqlite" or a postgres:// URL')
      .default('sqlite'),
    listen: z
      .strictObject({
        http: hostPort.default('127.0.0.1:8009'),
        postgres: hostPort.nullable().default('127.0.0.1:15432'),
        /** the MySQL / MariaDB door; it opens when a `type: mysql` connection exists; null turns it off */
        mysql: hostPort.nullable().default('127.0.0.1:13306'),
        /** the SSH door; it opens when a `type: ssh` connection exists; null turns it off */
        ssh: hostPort.nullable().default('127.0.0.1:2222'),
      })
      .prefault({}),
    /** host-based proxy: `<connection>.<proxyDomain>` is /proxy/<connection>/ with its whole path (off when absent) */
    proxyDomain: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'a DNS name, e.g. proxy.example.com')
      .transform((d) => d.toLowerCase())
      .optional(),
    /** certificate offered to clients that ask for TLS; self-signed (kept in dataDir) when absent */
    tls: tlsFiles.optional(),
    recording: recordingSchema,
    /** a secret Prometheus must send as `Authorization: Bearer` to read /metrics (open when absent) */
    metricsToken: z.string().min(16, 'at least 16 characters (a secret, e.g. ${env:WARDEN_METRICS_TOKEN})').optional(),
    /** a client's login at a wire door (Postgres, MySQL, SSH): time from connecting to being admitted, and how many may be that far at once */
    handshake: z
      .strictObject({
        timeout: duration('10s'),
        maxPending: z.number().int().min(1).default(256),
      })
      .prefault({}),
    audit: auditConfigSchema,
    /** largest frame accepted from a client before the connection is closed */
    maxMessageBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    mcp: mcpSchema,
    /**
     * Data-plane worker threads that accept Postgres and MySQL connections in place of the main thread
     * (the kernel spreads connections over them), each with its own relays, policy and
     * masking; records, reviews and admission stay on the main thread (src/gateway/workers).
     * 0: the main thread alone.
     */
    workers: z.number().int().min(0).max(64).default(0),
  })
  .prefault({});

const upstreamTls = z
  .union([
    z.boolean(),
    z.strictObject({
      /**
       * disable: plain; prefer: TLS when the server offers it (an active attacker can strip it);
       * require (default): TLS, no verification (SCRAM binds the login to the certificate);
       * verify-ca: TLS with the CA checked; verify-full: CA and host name checked
       */
      mode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('require'),
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      servername: z.string().optional(),
    }),
  ])
  .optional();

const accessSchema = z
  .strictObject({
    groups: z.array(z.string().min(1)).default([]),
    users: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

const connectionBase = {
  name: z
    .string()
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'letters, digits, "_", "." and "-", starting with a letter or digit'),
  description: z.string().optional(),
  agent: z.string().default('embedded'),
  access: accessSchema,
  /** what commands that cannot be classified get when no rule names them */
  onUnknown: z.enum(['allow', 'block', 'review']).default('review'),
  /** the connection's own rules, tried before the global ones */
  rules: rulesSchema.default([]),
  /** just-in-time approval on this connection: wait mode, approvers (src/reviews/config.ts) */
  reviews: connectionReviewsSchema,
  /** overrides of the global masking section for this connection */
  masking: connectionMaskingSchema.optional(),
};

export const postgresConnectionSchema = z.strictObject({
  ...connectionBase,
  type: z.literal('postgres'),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().default('postgres'),
  user: z.string().default('postgres'),
  password: z.string().optional(),
  /** `false` is `disable`, `true` or absent is `require`, or an object with a mode */
  tls: upstreamTls,
  /** send a cleartext or md5 password to the target over a link that is not verified TLS (verify-ca / verify-full) */
  allowInsecureAuth: z.boolean().default(false),
});

export const mysqlConnectionSchema = z.strictObject({
  ...connectionBase,
  type: z.literal('mysql'),
  host: z.string().default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(3306),
  /** the default database sessions start in (a client that names one starts there instead); none when absent */
  database: z.string().min(1).optional(),
  user: z.string().default('root'),
  password: z.string().optional(),
  tls: upstreamTls,
});

export const httpConnectionSchema = z.strictObject({
  ...connectionBase,
  type: z.literal('http'),
  /** the target's base URL; /proxy/<name>/<path> reaches <url>/<path> */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** a request body read to judge rules over its JSON fields: at most this many bytes (default 1 MiB); a larger one is opaque (onUnknown) */
  judgeBodyBytes: z.number().int().min(1024).default(1024 * 1024),
  /** https: the CA to trust (a PEM or a file), and whether the certificate is verified (default true) */
  tls: z.strictObject({ ca: z.string().optional(), verify: z.boolean().default(true) }).optional(),
  /** header, query, or minted: oauth2, google, aws (http-credentials.ts) */
  credential: httpCredentialSchema.optional(),
  /** LLM token budgets per UTC day (src/usage/budget-config.ts); usage is counted with or without one */
  budget: llmBudgetSchema.optional(),
});

export const sshConnectionSchema = z.strictObject({ ...connectionBase, ...sshConnectionFields });

/** a Git remote over smart HTTP (git-connection.ts) */
export const gitConnectionSchema = z.strictObject({ ...connectionBase, ...gitConnectionFields });

/** `type: exec`: a command run by the agent with injected credentials (src/config/exec-connection.ts) */
export const execConnectionSchema = z.strictObject({ ...connectionBase, ...execConnectionFields }).superRefine(checkCredentialFileRefs);

export const connectionSchema = z.discriminatedUnion('type', [postgresConnectionSchema, mysqlConnectionSchema, httpConnectionSchema, sshConnectionSchema, gitConnectionSchema, execConnectionSchema]);

export const configSchema = z.strictObject({
  gateway: gatewaySchema,
  auth: authSchema,
  connections: z.array(connectionSchema).default([]).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate connection name "${c.name}"` });
      seen.add(c.name);
    });
  }),
  rules: rulesSchema.default([]),
  masking: maskingConfigSchema,
  reviews: reviewsConfigSchema,
}).superRefine((c, ctx) => {
  // A remote agent's tunnel ends on the main thread: a worker thread could not dial through it.
  if (c.gateway.workers === 0) return;
  c.connections.forEach((conn, i) => {
    if ((conn.type === 'postgres' || conn.type === 'mysql') && conn.agent !== 'embedded') {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'workers'], message: `worker threads serve Postgres and MySQL connections dialed from the gateway; connection "${conn.name}" (connections[${i}]) goes through agent "${conn.agent}": set gateway.workers to 0` });
    }
  });
});

export type WardenConfig = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type MysqlConnectionConfig = z.infer<typeof mysqlConnectionSchema>;
export type HttpConnectionConfig = z.infer<typeof httpConnectionSchema>;
export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;
export type GitConnectionConfig = z.infer<typeof gitConnectionSchema>;
export type ExecConnectionConfig = z.infer<typeof execConnectionSchema>;
/** A connection to a database (a host and port the engines dial) */
export type DatabaseConnectionConfig = PostgresConnectionConfig | MysqlConnectionConfig;
export type GatewayConfig = WardenConfig['gateway'];
