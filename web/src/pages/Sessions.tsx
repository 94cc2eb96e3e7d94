// Sessions: filters, a search by command text, and server-side pages (a cursor per page,
// so the gateway never counts or skips rows; fast with 100,000 sessions).
import { useEffect, useState } from 'react';
import { Alert, Anchor, Badge, Button, Group, Loader, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { get, type SessionRow } from '../api.ts';
import { linkTo } from '../router.ts';

interface Filters { identity: string; connection: string; protocol: string; decision: string; from: string; to: string; command: string }
const EMPTY: Filters = { identity: '', connection: '', protocol: '', decision: '', from: '', to: '', command: '' };

function toQuery(f: Filters, after: string | null): string {
  const p = new URLSearchParams({ limit: '50' });
  for (const [k, v] of Object.entries(f)) {
    if (!v) continue;
    p.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
  }
  if (after) p.set('after', after);
  return p.toString();
}

export function Sessions() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<{ sessions: SessionRow[]; next: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const after = cursors.at(-1) ?? null;
  useEffect(() => {
    setPage(null);
    get<{ sessions: SessionRow[]; next: string | null }>(`/api/v1/console/sessions?${toQuery(filters, after)}`).then((p) => { setPage(p); setError(null); }, (e) => setError((e as Error).message));
  }, [filters, after]);
  const set = (k: keyof Filters) => (v: string | null) => setDraft((d) => ({ ...d, [k]: v ?? '' }));
  const apply = (e: React.FormEvent) => {
    e.preventDefault();
    setCursors([null]);
    setFilters(draft);
  };
  return (
    <Stack>
      <Title order={2}>Sessions</Title>
      <form onSubmit={apply} aria-label="Session filters">
        <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
          <TextInput label="Search commands" placeholder="text of a command" value={draft.command} onChange={(e) => set('command')(e.currentTarget.value)} />
          <TextInput label="Identity" value={draft.identity} onChange={(e) => set('identity')(e.currentTarget.value)} />
          <TextInput label="Connection" value={draft.connection} onChange={(e) => set('connection')(e.currentTarget.value)} />
          <Select label="Protocol" clearable value={draft.protocol || null} onChange={set('protocol')} data={['postgres', 'mysql', 'http', 'ssh', 'git', 'exec', 'mcp']} />
          <Select label="Decision" clearable value={draft.decision || null} onChange={set('decision')} data={[{ value: 'allow', label: 'allowed' }, { value: 'block', label: 'blocked' }, { value: 'review', label: 'held for review' }]} />
          <TextInput type="datetime-local" label="From" value={draft.from} onChange={(e) => set('from')(e.currentTarget.value)} />
          <TextInput type="datetime-local" label="To" value={draft.to} onChange={(e) => set('to')(e.currentTarget.value)} />
          <Group align="end"><Button type="submit">Apply</Button><Button variant="default" onClick={() => { setDraft(EMPTY); setFilters(EMPTY); setCursors([null]); }}>Clear</Button></Group>
        </SimpleGrid>
      </form>
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {page === null ? <Loader aria-label="Loading sessions" /> : page.sessions.length === 0 ? <Text c="dimmed">No session matches.</Text> : (
        <div className="table-scroll">
          <Table striped highlightOnHover aria-label="Sessions" data-testid="sessions-table" data-command={filters.command}>
            <Table.Thead>
              <Table.Tr><Table.Th>Started</Table.Th><Table.Th>Identity</Table.Th><Table.Th>Connection</Table.Th><Table.Th>Protocol</Table.Th><Table.Th>Commands</Table.Th><Table.Th>State</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {page.sessions.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td><Anchor {...linkTo(`/sessions/${s.id}${s.matchSeq !== null ? `#e${s.matchSeq}` : ''}`)}>{new Date(s.startedAt).toLocaleString()}</Anchor></Table.Td>
                  <Table.Td>{s.identityName}</Table.Td>
                  <Table.Td>{s.connection}</Table.Td>
                  <Table.Td>{s.protocol}</Table.Td>
                  <Table.Td>{s.commands}</Table.Td>
                  <Table.Td>{s.endedAt ? <Badge color="gray.7">ended</Badge> : <Badge color="teal.9">live</Badge>}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      )}
      <Group>
        <Button variant="default" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>Newer</Button>
        <Button variant="default" disabled={!page?.next} onClick={() => page?.next && setCursors((c) => [...c, page.next])}>Older</Button>
        <Text size="sm" c="dimmed">Page {cursors.length}</Text>
      </Group>
    </Stack>
  );
}
