// The usage ledger as the http engine sees it, counting into the gateway's metrics on the
// way: tokens settled per connection, and the requests a budget refused. Requests without a
// budget are summed and written once a second (src/usage/batcher.ts).
import type { BudgetLedger } from '../protocols/http/llm/metered-call.ts';
import type { UsageLedger } from '../usage/ledger.ts';
import { UsageBatcher } from '../usage/batcher.ts';
import type { GatewayMetrics } from './metrics.ts';

export function measuredLedger(ledger: UsageLedger, metrics: GatewayMetrics, onError: (e: Error) => void): BudgetLedger & { close(): Promise<void> } {
  const batcher = new UsageBatcher(ledger, 1000, onError);
  const tokens = (connection: string, used: { input: number; output: number }) => {
    metrics.llmTokens.inc({ connection, kind: 'input' }, used.input);
    metrics.llmTokens.inc({ connection, kind: 'output' }, used.output);
  };
  return {
    leaseMs: ledger.leaseMs,
    async reserve(connection, who, n, limits) {
      const held = await ledger.reserve(connection, who, n, limits);
      if (!held.ok) metrics.llmRefusals.inc({ connection, scope: held.refusal.scope });
      return held;
    },
    grow: (r, extra, limits) => ledger.grow(r, extra, limits),
    renew: (r) => ledger.renew(r),
    async settle(r, used) {
      await ledger.settle(r, used);
      tokens(r.connection, used);
    },
    async count(connection, who, used) {
      batcher.add(connection, who, used);
      tokens(connection, used);
    },
    close: () => batcher.close(),
  };
}
