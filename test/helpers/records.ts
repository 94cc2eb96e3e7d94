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
