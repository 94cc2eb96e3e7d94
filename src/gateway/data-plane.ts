// What serves a client's commands, compiled from the config: policy, maskers, the guard and
// the session opener. The main thread and every data-plane worker thread (./workers) build
// their own from the same config, so a command is judged and masked alike wherever the
// kernel sent its connection.
import type { Logger } from 'pino';
import type { ConnectionConfig, WardenConfig } from '../config/schema.ts';
import type { EngineDeps } from '../protocols/engine.ts';
import { compileMasker, resolveMaskingConfig, type Masker } from '../masking/index.ts';
import { PolicyGuard } from '../policy/guard.ts';
import { compilePolicy, type Policy } from '../policy/policy.ts';
import { rulesSchema } from '../policy/rule-schema.ts';
import { rulesReadSchemas } from '../policy/schemas.ts';
import type { ReviewGate } from '../reviews/desk.ts';
import { Session, type CredentialCheck, type EventSink } from '../session/session.ts';
import type { OpenSession } from '../session/types.ts';
import { maskingKey, originalsKey } from './keys.ts';

export interface DataPlane {
  policy: Policy;
  byName: Map<string, ConnectionConfig>;
  /** one masker per connection, compiled once; the key keeps hashed values stable across restarts */
  maskers: Map<string, Masker>;
  /** seals the originals of masked values (masking.keepOriginals); null: never kept */
  sealKey: Buffer | null;
  /** do this connection's rules or masking read schemas (so the session's search path matters)? */
  readsSchemas(c: ConnectionConfig): boolean;
  /** the guard over the policy; without a desk a review holds the command with no way to approve it */
  guard(desk: ReviewGate): PolicyGuard;
}

export function compileDataPlane(config: WardenConfig): DataPlane {
  const policyRules = rulesSchema.parse(config.rules);
  const policy = compilePolicy(policyRules);
  const byName = new Map<string, ConnectionConfig>(config.connections.map((c) => [c.name, c]));
  const hmacKey = maskingKey(config.gateway.dataDir);
  const maskers = new Map<string, Masker>(config.connections.map((c) => [c.name, compileMasker(resolveMaskingConfig(config.masking, c.masking), { hmacKey })]));
  const sealKey = [...maskers.values()].some((m) => m.enabled && m.config.keepOriginals) ? originalsKey(config.gateway.dataDir) : null;
  return {
    policy,
    byName,
    maskers,
    sealKey,
    readsSchemas: (c) => rulesReadSchemas([...policyRules, ...(c.rules ?? [])]) || (maskers.get(c.name)?.config.columns.some((r) => r.match.includes('.')) ?? false),
    guard: (desk) =>
      new PolicyGuard(
        policy,
        (name) => {
          const c = byName.get(name);
          return c && { name: c.name, type: c.type, onUnknown: c.onUnknown, rules: c.rules, access: c.access, reviews: c.reviews };
        },
        desk,
      ),
  };
}

/** Opens (and records the start of) a pipeline session; `opened` is told of each (metrics, the live list). */
export function sessionOpener(
  config: WardenConfig,
  plane: DataPlane,
  deps: { events: EventSink; guard: PolicyGuard; credentials: CredentialCheck; onRecordError: (e: unknown) => void; opened: (s: Session) => void },
): OpenSession {
  return async (info, extras = {}) => {
    const session = new Session({ ...info, id: Session.newId(), startedAt: Date.now() }, {
      events: deps.events,
      mode: config.gateway.recording.mode,
      guard: deps.guard,
      credentials: deps.credentials,
      endOnExpiry: config.auth.endSessionsOnExpiry,
      masker: plane.maskers.get(info.connection) ?? null,
      originalsKey: plane.sealKey,
      target: extras.target,
      observer: extras.observer,
      onRecordError: deps.onRecordError,
    });
    await session.start();
    deps.opened(session);
    return session;
  };
}

/** What the record keeps of each result (gateway.recording). */
export const recordingLimits = (config: WardenConfig) => ({ maxRows: config.gateway.recording.maxRows, maxBytes: config.gateway.recording.maxBytes });

/**
 * What a wire door of `type` is given from the config, alike on the main thread and on a
 * worker (a limit set here holds on both): its connections, frame and handshake limits,
 * the record's limits, the certificate offered to clients.
 */
export function doorSettings(
  config: WardenConfig,
  plane: DataPlane,
  type: string,
  tls: { cert: string; key: string } | null,
  log: Logger,
): Pick<EngineDeps<ConnectionConfig>, 'tls' | 'maxMessageBytes' | 'limits' | 'log' | 'dataDir' | 'connections' | 'handshake' | 'readsSchemas'> {
  return {
    tls,
    maxMessageBytes: config.gateway.maxMessageBytes,
    limits: recordingLimits(config),
    log,
    dataDir: config.gateway.dataDir,
    connections: config.connections.filter((c) => c.type === type),
    handshake: { timeoutMs: config.gateway.handshake.timeout, maxPending: config.gateway.handshake.maxPending },
    readsSchemas: plane.readsSchemas,
  };
}
