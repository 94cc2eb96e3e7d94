// The conformance suite every engine runs with its own clients: what the one session
// pipeline promises, whatever the wire protocol. An engine plugs in a driver (how to reach
// its target directly, how its clients talk through the gateway, what its malformed frames
// look like); the suite asserts the promises against the real server's ground truth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestGateway } from '../helpers/gateway.ts';
import { commandsOf, eventsOf, resultsOf } from '../helpers/records.ts';

/** A client of the engine's protocol, connected through the gateway. */
export interface ConformanceClient {
  /** run one statement; rows as text (null for NULL); rejects with the server's (or Warden's) error */
  query(sql: string): Promise<(string | null)[][]>;
  /** ask the target to cancel the statement running on this connection */
  cancel(): Promise<void>;
  /** resolves when the connection is closed by the other side; the error it got, if any */
  closed(): Promise<Error | null>;
  end(): Promise<void>;
}

export interface ConformanceDriver {
  /** engine name, for test titles */
  name: string;
  /** a gateway whose connection `conf` reaches the driver's target; rules as given */
  startGateway(rules: unknown[], extra?: { connection?: Record<string, unknown>; gateway?: Record<string, unknown> }): Promise<TestGateway>;
  /** a client through the gateway as `identity` (a token with group dev is made for it) */
  connect(t: TestGateway, identity: string, opts?: { token?: string }): Promise<ConformanceClient>;
  /** run SQL on the target directly (ground truth), rows as text */
  direct(sql: string): Promise<string[][]>;
  /** raw bytes through the gateway: a frame no client should send, and one over the size limit */
  malformed(t: TestGateway, identity: string): Promise<{ garbage: () => Promise<string>; oversized: (limit: number) => Promise<string> }>;
  /** end the target's side of this client's session (as an admin would) */
  killUpstream(t: TestGateway, client: ConformanceClient): Promise<void>;
  /**
   * What an error inside a transaction does to it on this target: Postgres aborts the
   * transaction (every statement fails until ROLLBACK); MySQL keeps it open, with what it
   * did so far still pending. A refusal must leave the client exactly where an error would.
   */
  errorInTransaction: 'aborts' | 'keeps';
  /** the error a statement stopped by the client's cancel ends with */
  cancelled: RegExp;
  /** run last, after the suite's own cleanup (a database the driver made for it); top-level hooks of one file do not wait for each other */
  cleanup?(): Promise<void>;
  sql: {
    /** a statement that waits `seconds` on the server */
    sleep(seconds: number): string;
    /** insert a row whose `email` column violates a unique index, so the error echoes the value */
    duplicateEmail(table: string, email: string): string;
    createTable(table: string): string;
  };
}

export function conformanceSuite(d: ConformanceDriver): void {
  const table = `warden_conf_${d.name}_${process.pid}`;
  let t: TestGateway;
  const rules = [
    { name: 'no-truncate', match: { kinds: ['truncate'] }, action: 'block', message: 'truncating is not allowed' },
    { name: 'hold-deletes', match: { kinds: ['delete'] }, action: 'review', review: { groups: ['dba'] } },
  ];
  const count = async () => Number((await d.direct(`SELECT count(*) FROM ${table}`))[0]![0]);

  before(async () => {
    await d.direct(`DROP TABLE IF EXISTS ${table}`);
    await d.direct(d.sql.createTable(table));
    await d.direct(`INSERT INTO ${table} (id, email) VALUES (1, 'ada@example.com'), (2, 'alan@example.com')`);
    t = await d.startGateway(rules);
  });
  after(async () => {
    await t?.close();
    await d.direct(`DROP TABLE IF EXISTS ${table}`);
    await d.cleanup?.();
  });

  test(`${d.name}: a command is recorded before it runs; when it cannot be recorded it does not run`, async () => {
    const c = await d.connect(t, 'conf-record');
    try {
      await c.query(`INSERT INTO ${table} (id, email) VALUES (3, 'x3@example.org')`);
      const cmds = await commandsOf(t, 'conf-record');
      const results = await resultsOf(t, 'conf-record');
      const insert = cmds.find((e) => String(e.data.text).includes('INSERT'))!;
      assert.equal(insert.data.decision, 'allow');
      assert.ok(results.some((r) => r.data.commandId === insert.data.commandId && r.seq > insert.seq));
      // The store refuses writes: the next command is refused, and the target never sees it.
      // (both ways in: a durable append, and persist, which strict commands take to the journal)
      // (and persistEncoded, which a data-plane worker's commands take)
      type Refusing = (...a: unknown[]) => Promise<unknown>;
      const audit = t.gw.services.audit as unknown as { append: Refusing; persist: Refusing; persistEncoded: Refusing };
      const { append, persist, persistEncoded } = audit;
      audit.append = audit.persist = audit.persistEncoded = () => Promise.reject(new Error('disk full (test)'));
      try {
        await assert.rejects(c.query(`INSERT INTO ${table} (id, email) VALUES (4, 'x4@example.org')`), /could not be recorded/);
      } finally {
        Object.assign(audit, { append, persist, persistEncoded });
      }
      assert.equal((await d.direct(`SELECT count(*) FROM ${table} WHERE id = 4`))[0]![0], '0');
      await c.query(`DELETE FROM ${table} WHERE id = 3`).catch(() => {});
    } finally {
      await c.end();
    }
    await d.direct(`DELETE FROM ${table} WHERE id >= 3`);
  });

  test(`${d.name}: a refusal comes in place of the answer, and leaves the transaction as any error would`, async () => {
    const c = await d.connect(t, 'conf-refuse');
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${table} (id, email) VALUES (5, 'x5@example.org')`);
      await assert.rejects(c.query(`TRUNCATE ${table}`), /warden: blocked: truncating is not allowed/);
      if (d.errorInTransaction === 'aborts') {
        await assert.rejects(c.query('SELECT 1'), /current transaction is aborted|transaction/i);
      } else {
        // The transaction goes on: its INSERT is still pending, seen by this client and not
        // yet by the server's other sessions (a TRUNCATE that reached MySQL would have
        // committed it, and emptied the table).
        assert.deepEqual(await c.query('SELECT 1'), [['1']]);
        assert.deepEqual(await c.query(`SELECT count(*) FROM ${table} WHERE id = 5`), [['1']]);
        assert.equal(await count(), 2);
      }
      await c.query('ROLLBACK');
      if (d.errorInTransaction === 'keeps') assert.deepEqual(await c.query(`SELECT count(*) FROM ${table} WHERE id = 5`), [['0']], 'ROLLBACK removed the pending INSERT');
      assert.deepEqual(await c.query('SELECT 1'), [['1']]);
    } finally {
      await c.end();
    }
    assert.equal(await count(), 2);
  });

  test(`${d.name}: a review holds the command; once approved the same command runs once`, async () => {
    const c = await d.connect(t, 'conf-review');
    try {
      const err = await c.query(`DELETE FROM ${table} WHERE id = 2`).then(() => null, (e: Error) => e);
      assert.match(String(err?.message), /warden: .*review/s);
      const id = /review (r[0-9a-f]+)/.exec(String(err?.message))?.[1];
      assert.ok(id, String(err?.message));
      assert.equal(await count(), 2);
      const approver = await t.token(['dba'], 'conf-approver');
      const r = await fetch(`${t.httpUrl}/api/v1/reviews/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'ok' }) });
      assert.ok(r.ok, await r.text());
      await c.query(`DELETE FROM ${table} WHERE id = 2`);
      assert.equal(await count(), 1);
      await assert.rejects(c.query(`DELETE FROM ${table} WHERE id = 2`), /review/);
    } finally {
      await c.end();
    }
    await d.direct(`INSERT INTO ${table} (id, email) VALUES (2, 'alan@example.com')`);
  });

  test(`${d.name}: rows and error texts are masked on the wire and in the record`, async () => {
    const c = await d.connect(t, 'conf-mask');
    try {
      const rows = await c.query(`SELECT email FROM ${table} ORDER BY id`);
      assert.equal(rows.length, 2);
      for (const [v] of rows) assert.doesNotMatch(String(v), /@example\.com/);
      const err = await c.query(d.sql.duplicateEmail(table, 'ada@example.com')).then(() => null, (e: Error) => e);
      assert.ok(err, 'the duplicate is refused by the server');
      assert.doesNotMatch(String(err.message) + String((err as { detail?: string }).detail ?? ''), /ada@example\.com/);
    } finally {
      await c.end();
    }
    // What came back is recorded masked (the commands are the caller's own text, kept exact).
    const results = JSON.stringify(await resultsOf(t, 'conf-mask'));
    assert.match(results, /\[EMAIL\]/);
    assert.doesNotMatch(results, /ada@example\.com|alan@example\.com/);
  });

  test(`${d.name}: a client's cancel reaches the statement on the target`, async () => {
    const c = await d.connect(t, 'conf-cancel');
    try {
      const started = Date.now();
      let done = false;
      const running = c.query(d.sql.sleep(20)).then(() => null, (e: Error) => e).finally(() => (done = true));
      // A cancel that arrives before the statement started cancels nothing: ask again until it stops.
      for (let i = 0; i < 20 && !done; i++) {
        await new Promise((r) => setTimeout(r, 300));
        if (!done) await c.cancel();
      }
      const err = await running;
      assert.match(String(err?.message), d.cancelled);
      assert.ok(Date.now() - started < 15_000, 'the statement stopped before its end');
      assert.deepEqual(await c.query('SELECT 1'), [['1']]);
    } finally {
      await c.end();
    }
  });

  test(`${d.name}: a malformed or oversized frame closes that session with an error; others go on`, async () => {
    const other = await d.connect(t, 'conf-frames-other');
    try {
      const raw = await d.malformed(t, 'conf-frames');
      assert.match(await raw.garbage(), /warden/i);
      const raw2 = await d.malformed(t, 'conf-frames');
      assert.match(await raw2.oversized(Number((t.gw.services.config.gateway as { maxMessageBytes: number }).maxMessageBytes)), /exceeds|too large|limit/i);
      assert.deepEqual(await other.query('SELECT 1'), [['1']]);
    } finally {
      await other.end();
    }
  });

  test(`${d.name}: the target ending the session gives the client a clear error and the record its reason`, async () => {
    const c = await d.connect(t, 'conf-upstream');
    await c.query('SELECT 1');
    await d.killUpstream(t, c);
    const err = await Promise.race([c.closed(), c.query('SELECT 1').then(() => null, (e: Error) => e)]);
    assert.ok(err, 'the client is told');
    await c.end().catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const end = (await eventsOf(t, 'conf-upstream')).find((e) => e.type === 'session.end');
    assert.ok(end, 'the session end is recorded');
    assert.match(String(end!.data.reason), /target|terminat|closed/i);
  });

  test(`${d.name}: revoking the token ends an open session at its next command`, async () => {
    const token = await t.token(['dev'], 'conf-revoked');
    const c = await d.connect(t, 'conf-revoked', { token });
    try {
      assert.deepEqual(await c.query('SELECT 1'), [['1']]);
      const n = await t.gw.services.revokeToken('conf-revoked', 'test');
      assert.ok(n > 0);
      await assert.rejects(c.query('SELECT 2'), /revoked/);
    } finally {
      await c.end().catch(() => {});
    }
    const end = (await eventsOf(t, 'conf-revoked')).find((e) => e.type === 'session.end');
    assert.equal(end?.data.reason, 'credential revoked');
  });

  test(`${d.name}: an expired token ends an open session at its next command`, async () => {
    const token = await t.token(['dev'], 'conf-expiring', 1500);
    const c = await d.connect(t, 'conf-expiring', { token });
    try {
      assert.deepEqual(await c.query('SELECT 1'), [['1']]);
      await new Promise((r) => setTimeout(r, 1700));
      await assert.rejects(c.query('SELECT 2'), /expired/);
    } finally {
      await c.end().catch(() => {});
    }
  });
}

/** A target whose own log says which statements it executed (the ground truth for completeness). */
export interface LoggedTarget {
  /** the gateway's connection to it */
  connection: Record<string, unknown>;
  /** the statements the target executed whose text holds `marker` */
  executed(marker: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface KillDriver {
  name: string;
  startTarget(): Promise<LoggedTarget>;
  /** the key of the gateway's listener for this engine, and how its port shows in the start banner */
  listen: { key: string; banner: RegExp };
  /** a client through the gateway's door on `port` (the load the gateway is killed under) */
  loadClient(port: number, connection: string, token: string): Promise<{ query(sql: string): Promise<unknown>; close(): void }>;
  /** create `table (v text)` on the target */
  createTable(target: LoggedTarget, table: string): Promise<void>;
  /** keys of the gateway's config section besides the test's own (e.g. workers) */
  gateway?: Record<string, unknown>;
}

/**
 * `INSERT INTO table (v) VALUES ('<marker>-<n>')` for n = 1.. until the connection fails; how
 * many were answered. A client still logging in when the gateway is killed sent none.
 */
async function insertUntilFails(d: KillDriver, port: number, token: string, table: string, marker: string): Promise<number> {
  let c: Awaited<ReturnType<KillDriver['loadClient']>>;
  try {
    c = await d.loadClient(port, 'kill', token);
  } catch {
    return 0;
  }
  let n = 0;
  try {
    for (;;) {
      await c.query(`INSERT INTO ${table} (v) VALUES ('${marker}-${n + 1}')`);
      n++;
    }
  } catch {
    c.close();
    return n;
  }
}

/**
 * Completeness across a crash: the gateway (its own process, strict recording) is killed
 * with SIGKILL under load; every statement the target's log says it executed must have an
 * allowed command in the gateway's record, with the same text, and the chain verifies.
 */
export function completenessAcrossKill(d: KillDriver): void {
  test(`${d.name}: no statement runs unrecorded, even when the gateway is killed -9 under load`, async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openStore } = await import('../../src/store/index.ts');
    const target = await d.startTarget();
    const dir = mkdtempSync(join(tmpdir(), 'warden-kill-'));
    const table = `warden_kill_${process.pid}`;
    const marker = `k${process.pid}x${Date.now().toString(36)}`;
    try {
      await d.createTable(target, table);
      const config = {
        gateway: { dataDir: join(dir, 'data'), listen: { http: '127.0.0.1:0', postgres: null, [d.listen.key]: '127.0.0.1:0' }, recording: { mode: 'strict' }, logLevel: 'warn', ...d.gateway },
        connections: [{ name: 'kill', ...target.connection, access: { groups: ['admin'] } }],
      };
      writeFileSync(join(dir, 'warden.json'), JSON.stringify(config));
      const bin = new URL('../../bin/warden.js', import.meta.url).pathname;
      const gw = spawn(process.execPath, [bin, 'start', '--config', join(dir, 'warden.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let banner = '';
      const ready = new Promise<{ port: number; token: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the gateway did not start: ${banner}`)), 60_000);
        gw.stdout!.on('data', (b: Buffer) => {
          banner += b.toString();
          const port = d.listen.banner.exec(banner)?.[1];
          const token = /\n\s+(wdn_[A-Za-z0-9_-]+)/.exec(banner)?.[1];
          if (port && token && /Connections:/.test(banner)) {
            clearTimeout(timer);
            resolve({ port: Number(port), token });
          }
        });
        gw.stderr!.on('data', (b: Buffer) => (banner += b.toString()));
        gw.once('exit', (code) => reject(new Error(`the gateway exited (${code}): ${banner}`)));
      });
      const { port, token } = await ready;
      const loops = [1, 2, 3, 4].map((i) => insertUntilFails(d, port, token, table, `${marker}-${i}`));
      // Killed once the load is really running (the target's own log says so), not after a
      // fixed time: on a loaded machine the first statements can take longer than any guess.
      for (const until = Date.now() + 60_000; (await target.executed(marker)).length < 8 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 200));
      gw.kill('SIGKILL');
      const sent = await Promise.all(loops);
      assert.ok(sent.reduce((a, b) => a + b, 0) > 4, `the load ran (${sent.join(', ')} statements)`);

      const executed = await target.executed(marker);
      assert.ok(executed.length > 0, 'the target executed statements before the kill');
      const store = await openStore({ store: 'sqlite', dataDir: join(dir, 'data') });
      try {
        const rows = await store.db.selectFrom('events').select(['data']).where('type', '=', 'command').execute();
        const recorded = new Set(
          rows
            .map((r) => JSON.parse(r.data) as { text?: string; decision?: string })
            .filter((c) => c.decision === 'allow')
            .map((c) => c.text),
        );
        const missing = executed.filter((s) => !recorded.has(s));
        assert.deepEqual(missing, [], `${missing.length} of ${executed.length} executed statements have no record`);
      } finally {
        await store.close();
      }
      const { run } = await import('../helpers/clients.ts');
      const verify = await run(process.execPath, [bin, 'audit', 'verify', '--config', join(dir, 'warden.json')]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      await target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
