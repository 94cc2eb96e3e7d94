// The SSH engine: its door, its refusal text. It has no catalogue and no in-process SQL
// client: MCP tools and `warden exec` reach ssh connections in a later slice.
import { join } from 'node:path';
import type { SshConnectionConfig } from '../../config/schema.ts';
import type { Engine, EngineDeps } from '../engine.ts';
import { SshFrontDoor } from './door.ts';
import { loadOrCreateHostKey } from './host-key.ts';

export function sshEngine(deps: EngineDeps<SshConnectionConfig>): Engine<SshConnectionConfig> {
  const door = new SshFrontDoor({
    admit: deps.admit,
    keyKnown: deps.sshKeyKnown,
    openSession: deps.openSession,
    dial: deps.dial,
    hostKey: loadOrCreateHostKey(deps.dataDir),
    keepBytes: deps.limits.maxBytes,
    recordingsDir: join(deps.dataDir, 'recordings'),
    handshake: deps.handshake,
    onRefused: deps.onRefused,
    log: deps.log,
  });
  return {
    type: 'ssh',
    listen: (host, port) => door.listen(host, port),
    close: () => door.close(),
    get activeSessions() {
      return door.activeSessions;
    },
    get pendingHandshakes() {
      return door.pendingHandshakes;
    },
    refuse: (r) => ({ code: r.kind, message: r.message }),
    describe: () => ({ sql: '', params: [] }),
    open: () => Promise.reject(new Error('ssh connections have no in-process client yet')),
  };
}
