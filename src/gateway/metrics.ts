// Prometheus metrics in the text exposition format. A handful of counters and gauges
// do not justify a client library; labels are fixed sets known in advance.
type Labels = Record<string, string>;

function key(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Metric {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(key(labels), value);
  }
}

export class Metrics {
  private readonly all: Metric[] = [];
  private readonly gauges: { metric: Metric; read: () => number }[] = [];
  private readonly labelledGauges: { metric: Metric; read: () => [Labels, number][] }[] = [];

  counter(name: string, help: string): Metric {
    const m = new Metric(name, help, 'counter');
    this.all.push(m);
    return m;
  }

  /** A gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    const m = new Metric(name, help, 'gauge');
    this.all.push(m);
    this.gauges.push({ metric: m, read });
  }

  /** A gauge with one value per label set (one per data-plane worker...), read at scrape time. */
  labelledGauge(name: string, help: string, read: () => [Labels, number][]): void {
    const m = new Metric(name, help, 'gauge');
    this.all.push(m);
    this.labelledGauges.push({ metric: m, read });
  }

  render(): string {
    for (const g of this.gauges) g.metric.set(g.read());
    for (const g of this.labelledGauges) {
      g.metric.values.clear();
      for (const [labels, v] of g.read()) g.metric.set(v, labels);
    }
    const out: string[] = [];
    for (const m of this.all) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
      if (m.values.size === 0) out.push(`${m.name} 0`);
      for (const [k, v] of m.values) out.push(`${m.name}${k} ${v}`);
    }
    return out.join('\n') + '\n';
  }
}

/** The gateway's metric set, shared by every front door. */
export function gatewayMetrics() {
  const metrics = new Metrics();
  return {
    metrics,
    sessions: metrics.counter('warden_sessions_total', 'Sessions opened, by protocol and connection'),
    commands: metrics.counter('warden_commands_total', 'Commands judged, by connection and decision'),
    authFailures: metrics.counter('warden_auth_failures_total', 'Refused authentications and access attempts, by front door and reason'),
    recordErrors: metrics.counter('warden_record_errors_total', 'Records that could not be written'),
    auditHeadsShipped: metrics.counter('warden_audit_heads_shipped_total', 'Signed audit heads sent to a sink (the data dir copy, directories, HTTP), by sink and outcome (ok, failed)'),
    llmTokens: metrics.counter('warden_llm_tokens_total', 'LLM tokens counted, by connection and kind (input, output)'),
    llmRefusals: metrics.counter('warden_llm_budget_refusals_total', 'LLM requests refused by a budget, by connection and scope (connection, identity)'),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
