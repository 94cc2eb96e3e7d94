// The demo target of the embedded default: Postgres in WASM (PGlite) served over the
// wire on a loopback port, seeded with a small customers table full of the personal
// data and secrets Warden exists to guard. Needs no database server on the machine.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { AddressInfo, Server } from 'node:net';

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Dennis', 'Radia', 'Linus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Ritchie', 'Perlman', 'Torvalds'];
// Test card numbers of the card networks (valid Luhn, never issued to anyone).
const CARDS = ['4242 4242 4242 4242', '4000 0566 5566 5556', '5555 5555 5555 4444', '2223 0031 2200 3222', '3782 822463 10005', '6011 1111 1111 1117'];

function seedSql(): string {
  const rows: string[] = [];
  for (let i = 0; i < 24; i++) {
    const first = FIRST[i % FIRST.length]!, last = LAST[(i * 5) % LAST.length]!;
    const email = `${first}.${last}${i}@example.com`.toLowerCase();
    const phone = `+1 415 555 ${String(1000 + i * 37).slice(-4)}`;
    const card = CARDS[i % CARDS.length]!;
    const key = `sk_live_${Buffer.from(`${first}${last}${i}warden-demo-key`).toString('base64url').slice(0, 24)}`;
    rows.push(`('${first} ${last}', '${email}', '${phone}', '${card}', '${key}', ${(i * 137) % 5000}.00)`);
  }
  return `
    CREATE TABLE customers (
      id serial PRIMARY KEY,
      name text NOT NULL,
      email text NOT NULL UNIQUE,
      phone text,
      card_number text,
      api_key text,
      balance numeric(12,2) NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO customers (name, email, phone, card_number, api_key, balance) VALUES ${rows.join(',\n')};
    CREATE TABLE orders (
      id serial PRIMARY KEY,
      customer_id int NOT NULL REFERENCES customers(id),
      item text NOT NULL,
      amount numeric(10,2) NOT NULL
    );
    INSERT INTO orders (customer_id, item, amount)
      SELECT 1 + (g % 24), (ARRAY['keyboard','monitor','license','support plan'])[1 + g % 4], 10 + (g * 7) % 490
      FROM generate_series(1, 60) g;`;
}

export interface DemoTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  close(): Promise<void>;
}

/** Start the seeded demo database on 127.0.0.1 and a free port. */
export async function startDemoTarget(): Promise<DemoTarget> {
  const db = await PGlite.create();
  await db.exec(seedSql());
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 32 });
  await server.start();
  // pglite-socket does not report the bound port; read it from its net.Server.
  const addr = (server as unknown as { server: Server }).server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port: addr.port,
    database: 'postgres',
    user: 'postgres',
    close: async () => {
      await server.stop();
      await db.close();
    },
  };
}
