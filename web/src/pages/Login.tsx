// Log in: through the identity provider when one is configured, else with a local user's
// password or an API key (the admin token printed at the first start). Either way the
// gateway answers with an HttpOnly cookie; the page never keeps a token.
import { useEffect, useState } from 'react';
import { Alert, Anchor, Button, Center, Loader, Paper, PasswordInput, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { get, post } from '../api.ts';

export function Login({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [mode, setMode] = useState<'oidc' | 'local' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  useEffect(() => {
    get<{ mode: 'oidc' | 'local' }>('/api/v1/auth/config').then((c) => setMode(c.mode), () => setMode('local'));
  }, []);
  const returnTo = location.pathname === '/login' ? '/' : location.pathname + location.search;

  const submit = (body: unknown) => async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post('/auth/session', body);
      setToken('');
      setPassword('');
      onLoggedIn();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="lg" w={420} maw="100%" component="main">
        <Stack>
          <Title order={1} size="h3">Warden console</Title>
          {error && <Alert color="red" role="alert" title="Login failed">{error}</Alert>}
          {mode === null && <Loader aria-label="Loading" />}
          {mode === 'oidc' && (
            <Button component="a" href={`/auth/login?returnTo=${encodeURIComponent(returnTo)}`}>Log in with your identity provider</Button>
          )}
          {mode !== null && <Tabs defaultValue="token">
            <Tabs.List>
              <Tabs.Tab value="token">Token</Tabs.Tab>
              {mode !== 'oidc' && <Tabs.Tab value="password">User and password</Tabs.Tab>}
            </Tabs.List>
            <Tabs.Panel value="token" pt="md">
              <form onSubmit={submit({ token })}>
                <Stack>
                  <PasswordInput label="API token" description="The admin token printed at the first start, or another API key" value={token} onChange={(e) => setToken(e.currentTarget.value)} autoComplete="off" required />
                  <Button type="submit" loading={busy}>Log in</Button>
                </Stack>
              </form>
            </Tabs.Panel>
            {mode !== 'oidc' && (
              <Tabs.Panel value="password" pt="md">
                <form onSubmit={submit({ username, password })}>
                  <Stack>
                    <TextInput label="User name" value={username} onChange={(e) => setUsername(e.currentTarget.value)} autoComplete="username" required />
                    <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="current-password" required />
                    <Button type="submit" loading={busy}>Log in</Button>
                  </Stack>
                </form>
              </Tabs.Panel>
            )}
          </Tabs>}
          <Text size="xs" c="dimmed">Sessions are kept in an HttpOnly cookie. <Anchor href="/api/v1/openapi.json" size="xs" underline="always">API reference</Anchor></Text>
        </Stack>
      </Paper>
    </Center>
  );
}
