// A signed head: the writer's signed statement "the chain holds `seq` events and the
// last one hashes to `hash`", numbered and linked to the head before it. Its text is
// shaped like a transparency-log checkpoint (a signed note: origin, size, hash, then
// extension lines), with the chain's tip hash where a Merkle log puts its root: the hash
// chain already commits to every earlier event, and verify walks the whole chain anyway.
//
// Heads are linked by `prev`, the hash of the previous head's whole note (signature
// included), so the newest head's signature vouches for every head before it: verify
// checks each link but only needs one signature, and a copy of any one head kept
// elsewhere (a sink) pins the store's whole history up to it.
import type { KeyObject } from 'node:crypto';
import { sha256hex } from './canonical.ts';
import { checkSignature } from './keys.ts';

export const HEAD_ORIGIN = 'warden.audit/v1';

/**
 * batch: signed with a group commit; beat: on the interval while idle (and at open);
 * close: the writer stopped cleanly here; adopt: the first head over a chain written
 * before heads existed.
 */
export type HeadKind = 'batch' | 'beat' | 'close' | 'adopt';
const KINDS: ReadonlySet<string> = new Set<HeadKind>(['batch', 'beat', 'close', 'adopt']);

export interface SignedHead {
  /** 1, 2, 3, ... across every writer of the chain */
  n: number;
  /** events in the chain */
  seq: number;
  /** the hash of event `seq` (GENESIS_HASH never: no head is signed over an empty chain) */
  hash: string;
  /** when it was signed, ISO-8601 */
  ts: string;
  /** headHash of head n-1 (GENESIS_HASH for head 1) */
  prev: string;
  kind: HeadKind;
  /** fingerprint of the signing key (see keys.ts) */
  keyId: string;
  /** base64 Ed25519 signature over headBody() */
  signature: string;
}

export type UnsignedHead = Omit<SignedHead, 'signature'>;

/** The signed text. */
export function headBody(h: UnsignedHead): string {
  return `${HEAD_ORIGIN}\n${h.seq}\n${h.hash}\nn ${h.n}\nprev ${h.prev}\ntime ${h.ts}\nkind ${h.kind}\nkey ${h.keyId}\n`;
}

/** The whole signed note: the body, a blank line, the signature line. */
export function headNote(h: SignedHead): string {
  return `${headBody(h)}\n— warden-audit-${h.keyId} ${h.signature}\n`;
}

/** What the next head's `prev` names. */
export function headHash(h: SignedHead): string {
  return sha256hex(headNote(h));
}

export function signHead(h: UnsignedHead, sign: (message: string) => string): SignedHead {
  return { ...h, signature: sign(headBody(h)) };
}

export function headSignatureOk(publicKey: KeyObject, h: SignedHead): boolean {
  return checkSignature(publicKey, headBody(h), h.signature);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A head from an untrusted place (a file, a request): the right shape, or null. */
export function parseHead(v: unknown): SignedHead | null {
  if (typeof v !== 'object' || v === null) return null;
  const h = v as Record<string, unknown>;
  const ok =
    Number.isSafeInteger(h.n) && (h.n as number) >= 1 &&
    Number.isSafeInteger(h.seq) && (h.seq as number) >= 1 &&
    typeof h.hash === 'string' && HEX64.test(h.hash) &&
    typeof h.prev === 'string' && HEX64.test(h.prev) &&
    typeof h.ts === 'string' && !h.ts.includes('\n') &&
    typeof h.kind === 'string' && KINDS.has(h.kind) &&
    typeof h.keyId === 'string' && /^[0-9a-f]{16}$/.test(h.keyId) &&
    typeof h.signature === 'string';
  if (!ok) return null;
  return { n: h.n as number, seq: h.seq as number, hash: h.hash as string, ts: h.ts as string, prev: h.prev as string, kind: h.kind as HeadKind, keyId: h.keyId as string, signature: h.signature as string };
}

/** The JSON line a head is kept as in files and sent as to sinks (fields in a fixed order). */
export function headLine(h: SignedHead): string {
  return JSON.stringify({ n: h.n, seq: h.seq, hash: h.hash, ts: h.ts, prev: h.prev, kind: h.kind, keyId: h.keyId, signature: h.signature }) + '\n';
}
