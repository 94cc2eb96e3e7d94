// The audit chain's state: the result of verify, the newest signed head, its key.
import { useEffect, useState } from 'react';
import { Alert, Badge, Button, Card, Code, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { get } from '../api.ts';

interface Verify {
  ok: boolean; count: number; lastSeq: number; problem?: string; brokenSeq?: number; kind?: string;
  heads: number; newestHead?: { n: number; seq: number; ts: string; kind: string }; checkpoints: number; keyId?: string; keyPinned: boolean;
}

export function Audit() {
  const [v, setV] = useState<Verify | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    get<Verify>('/api/v1/audit/verify').then((x) => { setV(x); setError(null); }, (e) => setError((e as Error).message)).finally(() => setBusy(false));
  };
  useEffect(run, []);
  return (
    <Stack>
      <Group justify="space-between"><Title order={2}>Audit chain</Title><Button onClick={run} loading={busy}>Verify again</Button></Group>
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {!v ? <Loader aria-label="Verifying" /> : (
        <Card withBorder data-testid="audit-status">
          <Stack gap="xs">
            <Group><Text fw={600}>Chain</Text><Badge color={v.ok ? 'teal.9' : 'red.9'} size="lg">{v.ok ? 'intact' : 'BROKEN'}</Badge></Group>
            {!v.ok && <Alert color="red" role="alert" title={`Broken${v.kind ? ` (${v.kind})` : ''}`}>{v.problem}{v.brokenSeq !== undefined ? ` — first broken event #${v.brokenSeq}` : ''}</Alert>}
            <Text size="sm">{v.count} events checked, up to #{v.lastSeq}; {v.heads} signed heads{v.checkpoints ? `, ${v.checkpoints} checkpoints` : ''}.</Text>
            <Text size="sm">Last signed head: {v.newestHead ? `#${v.newestHead.n} covering event #${v.newestHead.seq}, ${new Date(v.newestHead.ts).toLocaleString()} (${v.newestHead.kind})` : 'none yet'}</Text>
            <Text size="sm">Signing key fingerprint: <Code>{v.keyId ?? 'unknown'}</Code> {v.keyPinned ? '(pinned in the configuration)' : '(read from the data folder)'}</Text>
          </Stack>
        </Card>
      )}
    </Stack>
  );
}
