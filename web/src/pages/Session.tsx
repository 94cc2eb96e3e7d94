// One session replayed: its commands in order with decision, duration and the masked rows
// as recorded; auditors reveal kept originals (audited by the gateway) and export a result.
import { useEffect, useState } from 'react';
import { Alert, Anchor, Badge, Button, Card, Group, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { get, post, has, type Me, type StoredEvent } from '../api.ts';
import { CommandText } from '../sql.tsx';
import { linkTo } from '../router.ts';

interface SessionDetail {
  id: string; connection: string; protocol: string; identityName: string; clientAddr: string;
  startedAt: string; endedAt: string | null; endReason: string | null; commands: number; events: StoredEvent[];
}
const PAGE = 200;
const decisionColor: Record<string, string> = { allow: 'teal.9', block: 'red.9', review: 'yellow.4' };

function columnNames(cols: unknown, width: number): string[] {
  const names = Array.isArray(cols) ? cols.map((c, i) => (typeof c === 'string' ? c : c && typeof c === 'object' && 'name' in c ? String((c as { name: unknown }).name) : `column${i + 1}`)) : [];
  for (let i = names.length; i < width; i++) names.push(`column${i + 1}`);
  return names;
}

function Rows({ columns, rows, label }: { columns: unknown; rows: unknown[][]; label: string }) {
  const width = Math.max(0, ...rows.map((r) => r.length));
  const names = columnNames(columns, width);
  return (
    <div className="table-scroll">
      <Table withTableBorder aria-label={label} fz="sm">
        <Table.Thead><Table.Tr>{names.map((n, i) => <Table.Th key={i}>{n}</Table.Th>)}</Table.Tr></Table.Thead>
        <Table.Tbody>
          {rows.slice(0, 100).map((r, i) => (
            <Table.Tr key={i}>{r.map((v, j) => <Table.Td key={j} ff="monospace">{v === null ? <Text span c="dimmed" size="sm">NULL</Text> : typeof v === 'string' ? v : JSON.stringify(v)}</Table.Td>)}</Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {rows.length > 100 && <Text size="xs" c="dimmed">{rows.length - 100} more rows in the export</Text>}
    </div>
  );
}

function Step({ me, sessionId, command, result, focused }: { me: Me; sessionId: string; command: StoredEvent; result: StoredEvent | undefined; focused: boolean }) {
  const [revealed, setRevealed] = useState<Record<string, (string | null)[]> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const d = command.data;
  const r = result?.data;
  const reveal = async () => {
    try {
      const o = await post<{ originals: Record<string, (string | null)[]> }>(`/api/v1/sessions/${sessionId}/events/${result!.seq}/reveal`);
      setRevealed(o.originals);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const rows = Array.isArray(r?.rows) ? (r!.rows as unknown[][]) : [];
  const base = `/api/v1/console/sessions/${sessionId}/events/${result?.seq}/export`;
  return (
    <Card withBorder id={`e${command.seq}`} component="li" data-testid="replay-step" style={focused ? { outline: '3px solid var(--mantine-color-yellow-6)' } : undefined}>
      <Stack gap="xs">
        <Group gap="xs">
          <Badge color={decisionColor[String(d.decision)] ?? 'gray.7'}>{String(d.decision)}</Badge>
          <Text size="sm">{new Date(command.ts).toLocaleTimeString()}</Text>
          {r && typeof r.durationMs === 'number' && <Text size="sm">{r.durationMs} ms</Text>}
          {r && <Text size="sm">{String(r.tag ?? `${r.rowCount ?? 0} rows`)}</Text>}
          {typeof d.rule === 'string' && <Text size="sm">rule {d.rule}</Text>}
          {typeof d.reviewId === 'string' && <Anchor size="sm" {...linkTo(`/reviews/${d.reviewId}`)}>review {d.reviewId}</Anchor>}
        </Group>
        <CommandText text={String(d.text ?? '')} />
        {typeof d.reason === 'string' && d.decision !== 'allow' && <Text size="sm" c="dimmed">{d.reason}</Text>}
        {r && typeof r.error === 'string' && <Alert color="red" p="xs">{r.error}</Alert>}
        {rows.length > 0 && <Rows columns={r!.columns} rows={rows} label={`Result of command ${command.seq} (masked)`} />}
        {Array.isArray(r?.maskedColumns) && (r!.maskedColumns as string[]).length > 0 && <Text size="xs" c="dimmed">Masked: {(r!.maskedColumns as string[]).join(', ')}</Text>}
        {revealed && <Rows columns={r!.columns} rows={Object.keys(revealed).sort((a, b) => Number(a) - Number(b)).map((k) => revealed[k]!)} label={`Originals of command ${command.seq}`} />}
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {result && rows.length > 0 && (
          <Group gap="xs">
            <Button component="a" size="xs" variant="default" href={`${base}?format=csv`} download>Export CSV</Button>
            <Button component="a" size="xs" variant="default" href={`${base}?format=json`} download>Export JSON</Button>
            {has(me, 'auditor') && typeof r!.originals === 'string' && !revealed && <Button size="xs" color="indigo" onClick={reveal}>Reveal originals</Button>}
          </Group>
        )}
      </Stack>
    </Card>
  );
}

export function SessionPage({ me, id }: { me: Me; id: string }) {
  const [s, setS] = useState<SessionDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let timer: number | undefined;
    const load = () => get<SessionDetail>(`/api/v1/sessions/${encodeURIComponent(id)}`).then((x) => {
      setS(x);
      // A live session is watched: read again while it runs.
      if (!x.endedAt) timer = window.setTimeout(load, 2000);
    }, (e) => setError((e as Error).message));
    void load();
    return () => window.clearTimeout(timer);
  }, [id]);
  const focus = location.hash.startsWith('#e') ? Number(location.hash.slice(2)) : null;
  useEffect(() => {
    if (s && focus !== null) document.getElementById(`e${focus}`)?.scrollIntoView({ block: 'center' });
  }, [s, focus]);
  const [ending, setEnding] = useState<string | null>(null);
  // A long session renders in slices (the DOM of 100,000 steps would stall the page).
  const [shown, setShown] = useState(PAGE);
  if (error) return <Alert color="red" role="alert">{error}</Alert>;
  if (!s) return <Loader aria-label="Loading session" />;
  const end = async () => {
    try {
      await post(`/api/v1/console/sessions/${encodeURIComponent(s.id)}/end`);
      setEnding('Ended: its next command is refused.');
    } catch (e) {
      setEnding((e as Error).message);
    }
  };
  const results = new Map(s.events.filter((e) => e.type === 'result').map((e) => [String(e.data.commandId), e]));
  const commands = s.events.filter((e) => e.type === 'command');
  const focusAt = focus === null ? -1 : commands.findIndex((c) => c.seq === focus);
  const visible = commands.slice(0, Math.max(shown, focusAt + 1 + 20));
  return (
    <Stack>
      <Title order={2}>Session on {s.connection}</Title>
      <Text size="sm">{s.identityName} from {s.clientAddr} · {s.protocol} · started {new Date(s.startedAt).toLocaleString()} · {s.endedAt ? `ended ${new Date(s.endedAt).toLocaleString()} (${s.endReason ?? ''})` : <Badge color="teal.9">live</Badge>}</Text>
      <Group gap="sm">
        <Text size="sm" c="dimmed" aria-live="polite">{commands.length} commands</Text>
        {!s.endedAt && has(me, 'admin') && !ending && <Button size="xs" color="red.9" onClick={end}>End session</Button>}
        {ending && <Text size="sm" role="status">{ending}</Text>}
      </Group>
      <Stack component="ol" gap="sm" p={0} style={{ listStyle: 'none' }} aria-label="Replay">
        {visible.map((c) => <Step key={c.seq} me={me} sessionId={s.id} command={c} result={results.get(String(c.data.commandId))} focused={focus === c.seq} />)}
      </Stack>
      {visible.length < commands.length && <Button variant="default" onClick={() => setShown(visible.length + PAGE)}>Show {Math.min(PAGE, commands.length - visible.length)} more of {commands.length - visible.length}</Button>}
    </Stack>
  );
}
