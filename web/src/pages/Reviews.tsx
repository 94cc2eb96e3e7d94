// The reviews inbox: pending commands and access requests, newest first, kept live by the
// gateway's event stream; a review's page shows the exact command, the rule that held it and
// earlier decisions on the same command, and takes an approval or a rejection with a comment.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Badge, Button, Card, Group, Loader, SegmentedControl, Stack, Table, Text, Textarea, Title, Anchor } from '@mantine/core';
import { get, has, post, type Me, type Review } from '../api.ts';
import { CommandText } from '../sql.tsx';
import { linkTo } from '../router.ts';

const when = (iso: string) => new Date(iso).toLocaleString();
const statusColor: Record<string, string> = { pending: 'yellow.4', approved: 'teal.9', rejected: 'red.9', used: 'blue.9', expired: 'gray.7' };

function useLiveReviews(status: string) {
  const [list, setList] = useState<Review[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const load = useCallback(() => {
    const q = status === 'all' ? '' : `&status=${status}`;
    get<Review[]>(`/api/v1/reviews?limit=200${q}`).then((l) => { setList(l); setError(null); }, (e) => setError((e as Error).message));
  }, [status]);
  useEffect(() => {
    load();
    const es = new EventSource('/api/v1/console/events');
    // (re)connected: read the list again, so nothing missed while the stream was down stays missing
    es.onopen = () => {
      setLive(true);
      load();
    };
    es.onerror = () => setLive(false);
    es.addEventListener('review', () => load());
    return () => es.close();
  }, [load]);
  return { list, error, live, reload: load };
}

function ReviewDetail({ me, id, onChanged, tick }: { me: Me; id: string; onChanged: () => void; tick: number }) {
  const [r, setR] = useState<Review | null>(null);
  const [history, setHistory] = useState<Review[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get<Review>(`/api/v1/reviews/${encodeURIComponent(id)}`).then((x) => {
      setR(x);
      setError(null);
      if (x.commandHash) {
        get<Review[]>('/api/v1/reviews?limit=1000&kind=command').then((all) => setHistory(all.filter((o) => o.commandHash === x.commandHash && o.id !== x.id && o.status !== 'pending')), () => {});
      }
    }, (e) => setError((e as Error).message));
  }, [id, tick]);
  if (error) return <Alert color="red" role="alert">{error}</Alert>;
  if (!r) return <Loader aria-label="Loading review" />;
  const own = r.requester.subject === me.subject || r.requester.name === me.name;
  // what the gateway will accept from this viewer (desk.ts): members of the review's groups and admins decide
  const member = has(me, 'admin') || r.groups.some((g) => me.groups.includes(g));
  const vote = (v: 'approve' | 'reject') => async () => {
    setBusy(true);
    setError(null);
    try {
      setR(await post<Review>(`/api/v1/reviews/${encodeURIComponent(r.id)}/${v}`, { comment: comment || null }));
      setComment('');
      onChanged();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card withBorder component="section" aria-labelledby="review-title" data-testid="review-detail">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id="review-title">Review {r.id}</Title>
          <Badge color={statusColor[r.status] ?? 'gray.7'} data-testid="review-status">{r.status}</Badge>
        </Group>
        <Text size="sm"><b>Requester:</b> {r.requester.name} ({r.requester.kind}) · <b>Connection:</b> {r.connection} · <b>Asked:</b> {when(r.createdAt)}</Text>
        {r.kind === 'command' && r.command !== null ? <CommandText text={r.command} label="held command" /> : <Text size="sm"><b>Access for</b> {Math.round((r.durationMs ?? 0) / 60000)} min</Text>}
        {r.params && r.params.length > 0 && <Text size="sm"><b>Parameters:</b> {r.params.map((p) => (p === null ? 'NULL' : p)).join(', ')}</Text>}
        <Text size="sm"><b>{r.kind === 'command' ? 'Held by rule' : 'Reason'}:</b> {r.rule ?? '—'} — {r.reason}</Text>
        <Text size="sm"><b>Approvals:</b> {r.approvals} of {r.approvalsNeeded} from {r.groups.join(', ')} · open until {when(r.expiresAt)}</Text>
        {r.sessionId && <Anchor size="sm" {...linkTo(`/sessions/${r.sessionId}`)}>Open the session</Anchor>}
        {r.votes.length > 0 && (
          <Stack gap={2} aria-label="Votes">
            {r.votes.map((v) => <Text size="sm" key={v.voter + v.at}>{v.voter} {v.vote === 'approve' ? 'approved' : 'rejected'}{v.comment ? `: “${v.comment}”` : ''} ({when(v.at)})</Text>)}
          </Stack>
        )}
        {history.length > 0 && (
          <div>
            <Title order={3} size="h6">Earlier decisions on this command</Title>
            {history.slice(0, 10).map((h) => (
              <Text size="sm" key={h.id}><Anchor {...linkTo(`/reviews/${h.id}`)}>{h.id}</Anchor> {h.status} for {h.requester.name} ({when(h.createdAt)}){h.votes.at(-1)?.comment ? ` — “${h.votes.at(-1)!.comment}”` : ''}</Text>
            ))}
          </div>
        )}
        {r.status === 'pending' && !member && !own && <Text size="sm">Only members of {r.groups.join(', ')} may decide this review.</Text>}
        {r.status === 'pending' && (member || own) && (
          <Stack gap="xs">
            <Textarea label="Comment" value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={2} maxLength={2000} />
            {own && <Text size="sm" c="dimmed">You asked for this: you may withdraw it (reject) but not approve it.</Text>}
            <Group>
              <Button color="teal.9" onClick={vote('approve')} loading={busy} disabled={own}>Approve</Button>
              <Button color="red.9" variant="filled" onClick={vote('reject')} loading={busy}>{own ? 'Withdraw' : 'Reject'}</Button>
            </Group>
          </Stack>
        )}
      </Stack>
    </Card>
  );
}

export function Reviews({ me, selected }: { me: Me; selected: string | null }) {
  const [status, setStatus] = useState('pending');
  const { list, error, live, reload } = useLiveReviews(status);
  const [tick, setTick] = useState(0);
  // A change on the stream also refreshes the open review.
  useEffect(() => setTick((t) => t + 1), [list]);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Reviews</Title>
        <Badge color={live ? 'teal.9' : 'gray.7'} aria-live="polite">{live ? 'live' : 'offline'}</Badge>
      </Group>
      <SegmentedControl aria-label="Show reviews" value={status} onChange={setStatus} data={[{ value: 'pending', label: 'Pending' }, { value: 'all', label: 'All' }]} />
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {selected && <ReviewDetail me={me} id={selected} onChanged={reload} tick={tick} />}
      {list === null ? <Loader aria-label="Loading reviews" /> : list.length === 0 ? <Text c="dimmed">Nothing waits for a decision.</Text> : (
        <div className="table-scroll">
          <Table striped highlightOnHover aria-label="Reviews" data-testid="reviews-table">
            <Table.Thead>
              <Table.Tr><Table.Th>Review</Table.Th><Table.Th>Requester</Table.Th><Table.Th>Connection</Table.Th><Table.Th>Command</Table.Th><Table.Th>Status</Table.Th><Table.Th>Asked</Table.Th></Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.map((r) => (
                <Table.Tr key={r.id} data-review={r.id}>
                  <Table.Td><Anchor {...linkTo(`/reviews/${r.id}`)}>{r.id}</Anchor></Table.Td>
                  <Table.Td>{r.requester.name}</Table.Td>
                  <Table.Td>{r.connection}</Table.Td>
                  <Table.Td><Text size="sm" ff="monospace" lineClamp={2}>{r.kind === 'access' ? `access: ${r.reason}` : r.command}</Text></Table.Td>
                  <Table.Td><Badge color={statusColor[r.status] ?? 'gray.7'}>{r.status}</Badge></Table.Td>
                  <Table.Td>{when(r.createdAt)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      )}
    </Stack>
  );
}
