// A refused channel open that says why. ssh2's server refuses a channel with "connect
// failed" and no text, which tells an `ssh -L` user the destination is down; OpenSSH prints
// the reason and description of a refusal ("open failed: administratively prohibited:
// warden: ..."). ssh2 has no API for them: the refusal it sends from `reject()` (at once, in
// that call) is given ours instead.
import type { Connection } from 'ssh2';

/** SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (RFC 4254 5.1) */
const PROHIBITED = 1;

interface ProtocolInternals {
  channelOpenFail(recipient: number, reason: number, desc: string): void;
}

export function refuseChannel(conn: Connection, reject: () => void, message: string): void {
  const proto = (conn as unknown as { _protocol?: ProtocolInternals })._protocol;
  if (!proto || typeof proto.channelOpenFail !== 'function') return reject();
  const own = Object.prototype.hasOwnProperty.call(proto, 'channelOpenFail');
  const original = proto.channelOpenFail;
  // one line of printable text: a destination a caller wrote is echoed back to it
  const text = message.replace(/[^\x20-\x7e]/g, '?').slice(0, 400);
  proto.channelOpenFail = (recipient) => original.call(proto, recipient, PROHIBITED, text);
  try {
    reject();
  } finally {
    if (own) proto.channelOpenFail = original;
    else delete (proto as Partial<ProtocolInternals>).channelOpenFail;
  }
}
