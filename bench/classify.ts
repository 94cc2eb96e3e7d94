// Cost of classifying a statement and deciding on it: cold (parse), cached by exact text,
// cached by normalized text (literals differ per call), and the cached policy decision.
// Run: npx tsx bench/classify.ts
import { compilePolicy } from '../src/policy/policy.ts';
import { rulesSchema } from '../src/policy/rule-schema.ts';
import { classifyPostgres, clearClassifyCache, initPostgresParser } from '../src/sql/postgres.ts';

await initPostgresParser();

const PGBENCH = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
const LARGE = `WITH recent AS (
  SELECT o.id, o.customer_id, sum(li.qty * li.price) AS total FROM orders o
  JOIN line_items li ON li.order_id = o.id WHERE o.created_at > now() - interval '30 days'
  GROUP BY o.id, o.customer_id),
ranked AS (SELECT r.*, rank() OVER (PARTITION BY r.customer_id ORDER BY r.total DESC) AS rk FROM recent r)
SELECT c.name, c.email, ranked.total,
  (SELECT count(*) FROM returns x WHERE x.order_id = ranked.id) AS returns
FROM ranked JOIN customers c ON c.id = ranked.customer_id
WHERE ranked.rk <= 3 AND c.country IN ('DE', 'FR', 'NL') AND c.id > 42
ORDER BY ranked.total DESC LIMIT 100`;

const policy = compilePolicy(
  rulesSchema.parse([
    { name: 'no-drop', match: { kinds: ['drop', 'truncate'] }, action: 'block' },
    { name: 'no-file', match: { functions: ['pg_read_file', 'pg_terminate_backend'] }, action: 'block' },
    { name: 'all-rows', match: { kinds: ['delete', 'update'], noWhere: true }, action: 'review' },
    { name: 'secrets', match: { tables: ['secrets', 'vault.*'] }, action: 'review' },
  ]),
);
const identity = { kind: 'user' as const, subject: 'u', name: 'bench', groups: ['engineers'] };
const connection = { name: 'bench-db' };

function perCall(n: number, fn: (i: number) => void): number {
  // warm up the JIT on indexes the measured loop does not use
  for (let i = n; i < n + Math.min(n, 2000); i++) fn(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / n / 1000;
}

function row(label: string, us: number): void {
  console.log(`  ${label.padEnd(44)} ${us.toFixed(2).padStart(8)} µs`);
}

for (const [name, sql, n] of [['pgbench select', PGBENCH, 20_000], ['large query (CTEs, joins, window)', LARGE, 3_000]] as const) {
  console.log(`${name} (${sql.length} chars)`);
  const cold = perCall(n, () => {
    clearClassifyCache();
    classifyPostgres(sql);
  });
  row('cold: normalize + parse + classify', cold);
  classifyPostgres(sql);
  const exact = perCall(n * 10, () => classifyPostgres(sql));
  row('cached, same text', exact);
  // simple protocol: a different literal every call, same shape
  const literal = sql === PGBENCH ? (i: number) => sql.replace('$1', String(i)) : (i: number) => sql.replace('42', String(i));
  const texts = Array.from({ length: n + 2000 }, (_, i) => literal(i + 1_000_000));
  const normalized = perCall(n, (i) => classifyPostgres(texts[i]));
  row('cached by normalized text (literal differs)', normalized);
  const c = classifyPostgres(sql);
  policy.decide({ identity, connection, command: { text: sql }, classification: c });
  const decide = perCall(n * 10, () => policy.decide({ identity, connection, command: { text: sql }, classification: c }));
  row('policy.decide, cached decision', decide);
  const decideCold = perCall(n, () => {
    policy.clearCache();
    policy.decide({ identity, connection, command: { text: sql }, classification: c });
  });
  row('policy.decide, uncached (4 rules)', decideCold);
  row('hot path total: classify hit + decide hit', exact + decide);
  console.log(`  ratio cold / hot path: ${(cold / (exact + decide)).toFixed(0)}x`);
}
