// The audit chain's state: the last verify the gateway ran (kept by it, so a visit walks
// nothing however big the log), how many events came since, the newest signed head, its
// key; "Verify now" walks the chain on demand.
import { useEffect, useState } from 'react';
import { Alert, Badge, Button, Card, Code, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { get, post } from '../api.ts';

interface Verify {
  ok: boolean; count: number; lastSeq: number; problem?: string; brokenSeq?: number; kind?: string;
  heads: number; newestHead?: { n: number; seq: number; ts: string; kind: string }; checkpoints: number; keyId?: string; keyPinned: boolean;
}
interface AuditState {
  last: { result: Verify; at: string; durationMs: number } | null;
  running: boolean;
  chainEnd: number;
  eventsSince: number | null;
}

export function Audit() {
  const [s, setS] = useState<AuditState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const take = (p: Promise<AuditState>) => p.then((x) => { setS(x); setError(null); }, (e) => setError((e as Error).message));
  useEffect(() => void take(get<AuditState>('/api/v1/console/audit')), []);
  const verify = () => {
    setBusy(true);
    void take(post<AuditState>('/api/v1/console/audit/verify')).finally(() => setBusy(false));
  };
  const v = s?.last?.result;
  return (
    <Stack>
      <Group justify="space-between"><Title order={2}>Audit chain</Title><Button onClick={verify} loading={busy || s?.running}>Verify now</Button></Group>
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {!s ? <Loader aria-label="Loading" /> : (
        <Card withBorder data-testid="audit-status">
          <Stack gap="xs">
            {!s.last || !v ? (
              <Text size="sm">Not verified since the gateway started; the chain holds {s.chainEnd} events. Press <b>Verify now</b> to walk it.</Text>
            ) : (
              <>
                <Group><Text fw={600}>Chain</Text><Badge color={v.ok ? 'teal.9' : 'red.9'} size="lg">{v.ok ? 'intact' : 'BROKEN'}</Badge></Group>
                {!v.ok && <Alert color="red" role="alert" title={`Broken${v.kind ? ` (${v.kind})` : ''}`}>{v.problem}{v.brokenSeq !== undefined ? ` — first broken event #${v.brokenSeq}` : ''}</Alert>}
                <Text size="sm" data-testid="audit-verified-at">Verified {new Date(s.last.at).toLocaleString()} in {(s.last.durationMs / 1000).toFixed(1)} s: {v.count} events checked, up to #{v.lastSeq}; {v.heads} signed heads{v.checkpoints ? `, ${v.checkpoints} checkpoints` : ''}.</Text>
                <Text size="sm" data-testid="audit-since">{s.eventsSince ? `${s.eventsSince} events appended since (not yet verified), the chain now ends at #${s.chainEnd}.` : 'No events appended since.'}</Text>
                <Text size="sm">Last signed head: {v.newestHead ? `#${v.newestHead.n} covering event #${v.newestHead.seq}, ${new Date(v.newestHead.ts).toLocaleString()} (${v.newestHead.kind})` : 'none yet'}</Text>
                <Text size="sm">Signing key fingerprint: <Code>{v.keyId ?? 'unknown'}</Code> {v.keyPinned ? '(pinned in the configuration)' : '(read from the data folder)'}</Text>
              </>
            )}
          </Stack>
        </Card>
      )}
    </Stack>
  );
}
