// The console's shell: who is logged in, the navigation their roles allow, and the page.
import { useCallback, useEffect, useState } from 'react';
import { ActionIcon, AppShell, Burger, Group, Loader, NavLink, Text, Title, Tooltip, useMantineColorScheme, Button, Center } from '@mantine/core';
import { get, has, type Me, ApiError, LOGGED_OUT } from './api.ts';
import { linkTo, navigate, useLocation } from './router.ts';
import { Login } from './pages/Login.tsx';
import { Reviews } from './pages/Reviews.tsx';
import { Sessions } from './pages/Sessions.tsx';
import { SessionPage } from './pages/Session.tsx';
import { Audit } from './pages/Audit.tsx';
import { Connections } from './pages/Connections.tsx';
import { Agents } from './pages/Agents.tsx';
import { Tokens } from './pages/Tokens.tsx';

function ThemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const dark = colorScheme === 'dark';
  const label = dark ? 'Switch to light theme' : 'Switch to dark theme';
  return (
    <Tooltip label={label}>
      <ActionIcon variant="default" size="lg" aria-label={label} onClick={() => setColorScheme(dark ? 'light' : 'dark')}>
        <span aria-hidden="true">{dark ? '☀' : '☾'}</span>
      </ActionIcon>
    </Tooltip>
  );
}

export function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [opened, setOpened] = useState(false);
  const loc = useLocation();
  const load = useCallback(() => {
    get<Me>('/api/v1/whoami').then(setMe, (e) => {
      if (e instanceof ApiError && e.status === 401) setMe(null);
      else setMe(null);
    });
  }, []);
  useEffect(load, [load]);
  useEffect(() => {
    const out = () => setMe(null);
    window.addEventListener(LOGGED_OUT, out);
    return () => window.removeEventListener(LOGGED_OUT, out);
  }, []);
  // After a page change, keyboard and screen-reader focus starts at the new page's content.
  useEffect(() => {
    if (me) document.getElementById('main')?.focus({ preventScroll: true });
  }, [loc.path, me]);

  if (me === undefined) return <Center h="100vh"><Loader aria-label="Loading" /></Center>;
  if (me === null) return <Login onLoggedIn={load} />;

  const nav = [
    { to: '/reviews', label: 'Reviews', show: true },
    { to: '/sessions', label: 'Sessions', show: has(me, 'auditor') },
    { to: '/audit', label: 'Audit', show: has(me, 'auditor') },
    { to: '/connections', label: 'Connections', show: true },
    { to: '/agents', label: 'Agents', show: has(me, 'admin') },
    { to: '/tokens', label: 'Tokens', show: has(me, 'admin') },
  ].filter((n) => n.show);

  const path = loc.path === '/' || loc.path === '/login' ? '/reviews' : loc.path;
  let page: React.ReactNode;
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'reviews') page = <Reviews me={me} selected={parts[1] ?? null} />;
  else if (parts[0] === 'sessions' && parts[1]) page = <SessionPage me={me} id={parts[1]} />;
  else if (parts[0] === 'sessions') page = <Sessions />;
  else if (parts[0] === 'audit') page = <Audit />;
  else if (parts[0] === 'connections') page = <Connections />;
  else if (parts[0] === 'agents') page = <Agents />;
  else if (parts[0] === 'tokens') page = <Tokens />;
  else page = <Text>No such page.</Text>;

  const logout = async () => {
    await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', redirect: 'manual', headers: { 'x-warden-console': '1' } });
    setMe(null);
    navigate('/login', true);
  };

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <a className="skip-link" href="#main">Skip to content</a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={() => setOpened((o) => !o)} hiddenFrom="sm" size="sm" aria-label={opened ? 'Close navigation' : 'Open navigation'} />
            <Title order={1} size="h4">Warden</Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Text size="sm" visibleFrom="xs" data-testid="whoami">{me.name} · {me.roles.filter((r) => r !== 'user').join(', ') || 'user'}</Text>
            <ThemeToggle />
            <Button variant="default" size="xs" onClick={logout}>Log out</Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <nav aria-label="Main navigation">
          {nav.map((n) => (
            <NavLink key={n.to} component="a" {...linkTo(n.to)} onClickCapture={() => setOpened(false)} label={n.label} variant="filled" active={path === n.to || path.startsWith(n.to + '/')} aria-current={path.startsWith(n.to) ? 'page' : undefined} />
          ))}
        </nav>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>{page}</AppShell.Main>
    </AppShell>
  );
}
