// Admission, once for every front door: credential -> identity -> the connection exists and
// is of the door's type -> access list or an approved time window. The answer is data: an
// admitted caller, or a typed refusal that each engine renders in its own wire codes.
// Refusals are audited and counted here, so no door can forget to.
import type { Identity } from '../identity/types.ts';
import type { AuthOutcome } from '../identity/identity-service.ts';
import { checkAccessOrGrant, type AccessList, type GrantLookup } from './access.ts';

/** What a caller showed at the door. */
export type AdmissionCredential =
  | { kind: 'token'; token: string }
  /** a MySQL client's mysql_native_password answer to the door's scramble (API keys keep a verifier) */
  | { kind: 'native'; scramble: Buffer; response: Buffer }
  /** an SSH public key whose signature the door verified, by its SHA256 fingerprint */
  | { kind: 'sshkey'; fingerprint: string }
  /** already authenticated by the gateway's own HTTP layer (MCP, exec): the access check still runs */
  | { kind: 'identity'; identity: Identity };

export type AdmissionRefusal =
  | { kind: 'rate_limited'; message: string }
  | { kind: 'bad_credential'; message: string }
  | { kind: 'unknown_connection'; message: string }
  | { kind: 'access_denied'; message: string };

export interface AdmissionRequest {
  credential: AdmissionCredential;
  connection: string;
  /** the connection type the door serves (a postgres door does not open a mysql connection); `*`: any (in-process callers) */
  type: string;
  clientAddr: string;
  /** the door's name in the record: postgres, mysql, mcp, exec */
  frontDoor: string;
}

export interface Admissible {
  name: string;
  type: string;
  access: AccessList;
}

export type AdmissionAnswer<C> = { ok: true; identity: Identity; connection: C } | { ok: false; refusal: AdmissionRefusal };

export interface AdmissionDeps<C extends Admissible> {
  connection(name: string): C | undefined;
  authenticate(token: string, ctx: AdmissionContext): Promise<AuthOutcome>;
  authenticateNative(scramble: Buffer, response: Buffer, ctx: AdmissionContext): Promise<AuthOutcome>;
  authenticateSshKey(fingerprint: string, ctx: AdmissionContext): Promise<AuthOutcome>;
  grants: GrantLookup;
  /** the record of a refusal after authentication (before it, the identity layer records its own) */
  denied(who: Identity, ctx: AdmissionContext & { reason: string }): Promise<void>;
  admitted(who: Identity, ctx: AdmissionContext): Promise<void>;
  /** counts refusals by door and reason (metrics) */
  count?(frontDoor: string, reason: 'unknown_connection' | 'access_denied'): void;
}

export interface AdmissionContext {
  clientAddr: string;
  frontDoor: string;
  connection: string;
}

const BAD_CREDENTIAL = 'the password must be a valid Warden access token';

export class Admission<C extends Admissible> {
  constructor(private readonly deps: AdmissionDeps<C>) {}

  async admit(req: AdmissionRequest): Promise<AdmissionAnswer<C>> {
    const ctx: AdmissionContext = { clientAddr: req.clientAddr, frontDoor: req.frontDoor, connection: req.connection };
    const cred = req.credential;
    let who: Identity;
    if (cred.kind === 'identity') who = cred.identity;
    else {
      const auth =
        cred.kind === 'token' ? await this.deps.authenticate(cred.token, ctx)
        : cred.kind === 'sshkey' ? await this.deps.authenticateSshKey(cred.fingerprint, ctx)
        : await this.deps.authenticateNative(cred.scramble, cred.response, ctx);
      if (!auth.ok && auth.reason === 'rate_limited') return refused('rate_limited', 'too many failed attempts; try again later');
      if (!auth.ok) return refused('bad_credential', BAD_CREDENTIAL);
      who = auth.identity;
    }
    const conn = this.deps.connection(req.connection);
    if (!conn || (req.type !== '*' && conn.type !== req.type)) {
      const what = req.type === '*' ? 'connection' : `${req.type} connection`;
      await this.deps.denied(who, { ...ctx, reason: `no such ${what}` });
      this.deps.count?.(req.frontDoor, 'unknown_connection');
      return refused('unknown_connection', `no ${what} named "${req.connection}"`);
    }
    const access = await checkAccessOrGrant(who, conn, this.deps.grants);
    if (!access.allowed) {
      await this.deps.denied(who, { ...ctx, reason: access.reason });
      this.deps.count?.(req.frontDoor, 'access_denied');
      return refused('access_denied', access.reason);
    }
    await this.deps.admitted(who, ctx);
    return { ok: true, identity: who, connection: conn };
  }
}

function refused(kind: AdmissionRefusal['kind'], message: string): { ok: false; refusal: AdmissionRefusal } {
  return { ok: false, refusal: { kind, message } };
}
