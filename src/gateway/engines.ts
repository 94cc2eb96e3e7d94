// The engines the gateway composes, by connection type, and the listener key each opens on.
// A new protocol is a folder under src/protocols and one line here.
import type { ConnectionConfig, WardenConfig } from '../config/schema.ts';
import type { Engine, EngineDeps } from '../protocols/engine.ts';

type ListenKey = keyof WardenConfig['gateway']['listen'];

interface Registered {
  listen: ListenKey;
  /** listen even with no connection of this type (the Postgres door: the demo, a later reload) */
  listenAlways: boolean;
  /** the engine's maker, loaded only when the gateway runs it (ssh2 alone is ~19 MB resident) */
  load(): Promise<(deps: EngineDeps<ConnectionConfig>) => Engine<ConnectionConfig>>;
}

type Make = Awaited<ReturnType<Registered['load']>>;

export const ENGINES: Record<string, Registered> = {
  postgres: { listen: 'postgres', listenAlways: true, load: async () => (await import('../protocols/postgres/engine.ts')).postgresEngine as Make },
  mysql: { listen: 'mysql', listenAlways: false, load: async () => (await import('../protocols/mysql/engine.ts')).mysqlEngine as Make },
  ssh: { listen: 'ssh', listenAlways: false, load: async () => (await import('../protocols/ssh/engine.ts')).sshEngine as Make },
};
