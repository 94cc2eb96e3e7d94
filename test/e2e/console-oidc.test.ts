// The console with an identity provider configured: the login page offers the provider's
// login (auth code + PKCE through the gateway), the browser comes back with the session
// cookie and the console shows the person with the roles of their groups. The provider is
// the real oidc-provider of the test harness; its login step (a JSON API in the harness,
// not a page) is played out of band when Chromium reaches it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startOidcProvider, completeBrowserLogin, type TestOidcProvider } from '../helpers/oidc-provider.ts';
import { startTestGateway, localPostgres, type TestGateway } from '../helpers/gateway.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`;
let idp: TestOidcProvider;
let t: TestGateway;
let browser: Browser;

before(async () => {
  if (skip) return;
  idp = await startOidcProvider({ accounts: [{ sub: 'olga', email: 'olga@example.test', name: 'Olga', groups: ['auditor'] }] });
  t = await startTestGateway({
    connections: [localPostgres('eng', { access: { groups: ['engineers'] } })],
    auth: { oidc: { issuer: idp.issuer, clientId: idp.cliClientId, audience: idp.audience }, secureCookie: false },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'] });
});
after(async () => {
  await browser?.close();
  await t?.close();
  await idp?.close();
});

test('OIDC: log in through the provider from the console, come back logged in with the roles of the groups', { skip }, async () => {
  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  // The gateway's /auth/login answers a redirect to the provider; the provider's part is
  // played here and the browser is sent straight on to the gateway's callback, with the
  // gateway's own state cookie as it set it.
  await page.route(`${t.httpUrl}/auth/login?*`, async (route) => {
    const res = await route.fetch({ maxRedirects: 0 });
    const back = await completeBrowserLogin(res.headers().location!, 'olga');
    await route.fulfill({ response: res, headers: { ...res.headers(), location: back.href } });
  });
  await page.goto(`${t.httpUrl}/sessions`);
  const idpLink = page.getByRole('link', { name: 'Log in with your identity provider' });
  await idpLink.waitFor();
  // no password form when an identity provider is configured
  assert.equal(await page.getByRole('tab', { name: 'User and password' }).count(), 0);
  await idpLink.click();
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/sessions', 'back where the login started');
  assert.match(await page.getByTestId('whoami').innerText(), /#olga · auditor/);
  const session = (await ctx.cookies()).find((c) => c.name === 'warden_session');
  assert.ok(session?.httpOnly);
  assert.doesNotMatch(page.url(), /code=|token/);
  // the auditor's pages, not the admin's
  assert.equal(await page.getByRole('link', { name: 'Audit' }).count(), 1);
  assert.equal(await page.getByRole('link', { name: 'Tokens' }).count(), 0);
  // log out: the cookie's token is revoked
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Log in with your identity provider' }).waitFor();
  const cookie = `warden_session=${encodeURIComponent(session!.value)}`;
  assert.equal((await fetch(`${t.httpUrl}/api/v1/whoami`, { headers: { cookie } })).status, 401);
  await ctx.close();
});
