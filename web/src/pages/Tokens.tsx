// API tokens: listed without their secret; a new one is shown once; revoke.
import { useCallback, useEffect, useState } from 'react';
import { Alert, Button, Code, CopyButton, Group, Loader, Stack, Table, TextInput, Title, Text } from '@mantine/core';
import { del, get, post } from '../api.ts';

interface Token { id: string; name: string; groups: string[]; createdAt: string; expiresAt: string | null; lastUsedAt: string | null }

export function Tokens() {
  const [list, setList] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [groups, setGroups] = useState('');
  const [ttl, setTtl] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const load = useCallback(() => void get<Token[]>('/api/v1/console/tokens').then(setList, (e) => setError((e as Error).message)), []);
  useEffect(load, [load]);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const t = await post<{ token: string }>('/api/v1/tokens', { name, groups: groups.split(',').map((g) => g.trim()).filter(Boolean), ...(ttl ? { ttl } : {}) });
      setCreated(t.token);
      setName('');
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (id: string) => {
    try {
      await del(`/api/v1/tokens/${encodeURIComponent(id)}`);
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <Stack>
      <Title order={2}>Tokens</Title>
      {error && <Alert color="red" role="alert">{error}</Alert>}
      {created && (
        <Alert variant="default" title="Token created: copy it now, it is not shown again" withCloseButton closeButtonLabel="Hide the token" onClose={() => setCreated(null)}>
          <Group gap="xs"><Code data-testid="new-token">{created}</Code><CopyButton value={created}>{({ copied, copy }) => <Button size="xs" variant="default" onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}</CopyButton></Group>
        </Alert>
      )}
      <form onSubmit={create} aria-label="New token">
        <Group align="end">
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} required />
          <TextInput label="Groups" description="comma-separated" value={groups} onChange={(e) => setGroups(e.currentTarget.value)} />
          <TextInput label="Lifetime" description="e.g. 8h (empty: no expiry)" value={ttl} onChange={(e) => setTtl(e.currentTarget.value)} />
          <Button type="submit">Create</Button>
        </Group>
      </form>
      {!list ? <Loader aria-label="Loading tokens" /> : list.length === 0 ? <Text>No active token.</Text> : (
        <div className="table-scroll">
          <Table aria-label="Tokens"><Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Groups</Table.Th><Table.Th>Created</Table.Th><Table.Th>Expires</Table.Th><Table.Th>Last used</Table.Th><Table.Th><span className="skip-link">Actions</span></Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{list.map((t) => (
              <Table.Tr key={t.id}><Table.Td>{t.name}</Table.Td><Table.Td>{t.groups.join(', ')}</Table.Td><Table.Td>{new Date(t.createdAt).toLocaleString()}</Table.Td><Table.Td>{t.expiresAt ? new Date(t.expiresAt).toLocaleString() : 'never'}</Table.Td><Table.Td>{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : '—'}</Table.Td>
                <Table.Td><Button size="xs" color="red.9" aria-label={`Revoke ${t.name}`} onClick={() => revoke(t.id)}>Revoke</Button></Table.Td></Table.Tr>
            ))}</Table.Tbody>
          </Table>
        </div>
      )}
    </Stack>
  );
}
