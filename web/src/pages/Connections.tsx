// Connections with their access groups and rules, read-only.
import { useEffect, useState } from 'react';
import { Alert, Badge, Card, Code, Group, Loader, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { get } from '../api.ts';

interface Conn { name: string; type: string; description: string | null; agent: string; groups: string[]; onUnknown: string | null; rules: unknown[]; host?: string; url?: string }

export function Connections() {
  const [data, setData] = useState<{ connections: Conn[]; rules: unknown[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => void get<{ connections: Conn[]; rules: unknown[] }>('/api/v1/console/connections').then(setData, (e) => setError((e as Error).message)), []);
  if (error) return <Alert color="red" role="alert">{error}</Alert>;
  if (!data) return <Loader aria-label="Loading connections" />;
  return (
    <Stack>
      <Title order={2}>Connections</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {data.connections.map((c) => (
          <Card withBorder key={c.name} component="section" aria-label={`Connection ${c.name}`}>
            <Stack gap={4}>
              <Group gap="xs"><Title order={3} size="h5">{c.name}</Title><Badge color="indigo.8">{c.type}</Badge><Text size="sm">agent {c.agent}</Text></Group>
              {c.description && <Text size="sm">{c.description}</Text>}
              <Text size="sm">Access: {c.groups.map((g) => <Badge key={g} color="gray.8" mr={4}>{g}</Badge>)}</Text>
              {c.onUnknown && <Text size="sm">Unknown commands: {c.onUnknown}</Text>}
              {c.rules.length > 0 && <Code block>{JSON.stringify(c.rules, null, 2)}</Code>}
            </Stack>
          </Card>
        ))}
      </SimpleGrid>
      {data.rules.length > 0 && (<><Title order={3} size="h4">Rules for every connection</Title><Code block>{JSON.stringify(data.rules, null, 2)}</Code></>)}
    </Stack>
  );
}
