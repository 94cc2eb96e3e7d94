// Once-per-store facts. `claim` is an insert that only one caller can win, whichever
// replica or restart asks, so "do this once ever" holds even when two gateways start at once.
import type { Store } from './index.ts';

/** The first admin token was minted (value `minted`, or `before-marker` for a store that had keys already). */
export const BOOTSTRAP_ADMIN = 'bootstrap_admin';

/** True for the one caller that records `name` first; false when it was already recorded. */
export async function claim(store: Store, name: string, value: string, now = Date.now()): Promise<boolean> {
  const res = await store.db
    .insertInto('gateway_state')
    .values({ name, value, set_at: now })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
}

/** Forget a claim (its work failed and may be tried again). */
export async function unclaim(store: Store, name: string): Promise<void> {
  await store.db.deleteFrom('gateway_state').where('name', '=', name).execute();
}
