// Remote agents: connected or not, their tunnels and open streams.
import { useEffect, useState } from 'react';
import { Alert, Badge, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { get } from '../api.ts';

interface Agent { name: string; status: string; lastSeen: string | null; version: string | null; hostname: string | null; tunnels: number; streams: number; rttMs: number | null; lastError: string | null }

export function Agents() {
  const [list, setList] = useState<Agent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const load = () => get<Agent[]>('/api/v1/agents').then(setList, (e) => setError((e as Error).message));
    void load();
    const t = window.setInterval(load, 5000);
    return () => window.clearInterval(t);
  }, []);
  if (error) return <Alert color="red" role="alert">{error}</Alert>;
  if (!list) return <Loader aria-label="Loading agents" />;
  return (
    <Stack>
      <Title order={2}>Agents</Title>
      <Text size="sm" c="dimmed">The embedded agent runs inside the gateway; remote agents dial out to it.</Text>
      {list.length === 0 ? <Text>No remote agent. Add one with <code>warden agents add NAME</code>.</Text> : (
        <div className="table-scroll">
          <Table aria-label="Agents"><Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Status</Table.Th><Table.Th>Host</Table.Th><Table.Th>Tunnels</Table.Th><Table.Th>Streams</Table.Th><Table.Th>RTT</Table.Th><Table.Th>Last seen</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{list.map((a) => (
              <Table.Tr key={a.name}><Table.Td>{a.name}</Table.Td><Table.Td><Badge color={a.status === 'connected' ? 'teal.9' : 'gray.7'}>{a.status}</Badge></Table.Td><Table.Td>{a.hostname ?? '—'}</Table.Td><Table.Td>{a.tunnels}</Table.Td><Table.Td>{a.streams}</Table.Td><Table.Td>{a.rttMs === null ? '—' : `${a.rttMs} ms`}</Table.Td><Table.Td>{a.lastSeen ? new Date(a.lastSeen).toLocaleString() : '—'}</Table.Td></Table.Tr>
            ))}</Table.Tbody>
          </Table>
        </div>
      )}
    </Stack>
  );
}
