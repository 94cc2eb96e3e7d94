// What the gateway recorded, read back the way `warden sessions show` reads it: every
// event of the sessions an identity opened, in chain order.
import type { TestGateway } from './gateway.ts';

export async function eventsOf(t: TestGateway, identity: string) {
  await t.gw.services.audit.flush();
  const sessions = await t.gw.services.listSessions({ limit: 1000 });
  const out = [];
  for (const s of sessions.filter((x) => x.identityName === identity)) out.push(...(await t.gw.services.getSession(s.id))!.events);
  return out.sort((a, b) => a.seq - b.seq);
}

/** The command events of an identity's sessions. */
export async function commandsOf(t: TestGateway, identity: string) {
  return (await eventsOf(t, identity)).filter((e) => e.type === 'command');
}

/** The result events of an identity's sessions. */
export async function resultsOf(t: TestGateway, identity: string) {
  return (await eventsOf(t, identity)).filter((e) => e.type === 'result');
}

/** What the record holds for a command text, over every session: its result rows and the columns it says were masked. */
export async function recordedFor(t: TestGateway, text: string): Promise<{ rows: unknown[][]; masked: string[] }> {
  await t.gw.services.audit.flush();
  const out = { rows: [] as unknown[][], masked: [] as string[] };
  for (const s of await t.gw.services.listSessions({ limit: 1000 })) {
    const events = (await t.gw.services.getSession(s.id))!.events;
    const ids = new Set(events.filter((e) => e.type === 'command' && e.data.text === text).map((e) => e.data.commandId));
    for (const e of events) {
      if (e.type !== 'result' || !ids.has(e.data.commandId)) continue;
      out.rows.push(...((e.data.rows as unknown[][] | undefined) ?? []));
      out.masked.push(...((e.data.maskedColumns as string[] | undefined) ?? []));
    }
  }
  return out;
}
