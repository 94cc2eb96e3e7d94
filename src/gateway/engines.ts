// The engines the gateway composes, by connection type, and the listener key each opens on.
// A new protocol is a folder under src/protocols and one line here.
import type { ConnectionConfig, WardenConfig } from '../config/schema.ts';
import type { Engine, EngineDeps } from '../protocols/engine.ts';
import { postgresEngine } from '../protocols/postgres/engine.ts';
import { mysqlEngine } from '../protocols/mysql/engine.ts';
import { sshEngine } from '../protocols/ssh/engine.ts';

type ListenKey = keyof WardenConfig['gateway']['listen'];

interface Registered {
  listen: ListenKey;
  /** listen even with no connection of this type (the Postgres door: the demo, a later reload) */
  listenAlways: boolean;
  make(deps: EngineDeps<ConnectionConfig>): Engine<ConnectionConfig>;
}

export const ENGINES: Record<string, Registered> = {
  postgres: { listen: 'postgres', listenAlways: true, make: postgresEngine as Registered['make'] },
  mysql: { listen: 'mysql', listenAlways: false, make: mysqlEngine as Registered['make'] },
  ssh: { listen: 'ssh', listenAlways: false, make: sshEngine as Registered['make'] },
};
