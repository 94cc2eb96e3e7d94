// The web console end to end: the real gateway, real psql, Debian's Chromium driven by
// playwright-core. An admin logs in with the token printed at first start, watches a psql
// query be held (the inbox updates live), approves it with a comment and psql completes;
// rejects another (psql is told, the table is intact); replays the session; an auditor
// reveals a kept original (audited) and exports the masked result as CSV. axe-core checks
// each page; screenshots go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { psql } from '../helpers/clients.ts';
import { localPostgres } from '../helpers/gateway.ts';
import { startReviewGateway, direct, tableName, type ReviewGateway } from '../integration/reviews-harness.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname;
// Evaluated in the page (the console's CSP refuses injected script tags, as it should).
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const EMAIL = 'grace.hopper@example.com';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`;

let t: ReviewGateway;
let browser: Browser;
let alice: string, auditorToken: string;
const held = tableName('con_held');
const kept = tableName('con_kept');
const people = tableName('con_people');

before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  await direct(`CREATE TABLE ${held} (id int); INSERT INTO ${held} SELECT g FROM generate_series(1, 3) g;
    CREATE TABLE ${kept} (id int); INSERT INTO ${kept} SELECT g FROM generate_series(1, 4) g;
    CREATE TABLE ${people} (id int, name text, email text); INSERT INTO ${people} VALUES (1, 'Grace', '${EMAIL}'), (2, 'Alan', 'alan@example.org')`);
  t = await startReviewGateway({
    connections: [
      localPostgres('app', {
        access: { groups: ['dev'] },
        // psql waits for the decision instead of failing at once
        reviews: { wait: '90s' },
        masking: { keepOriginals: true },
        rules: [{ name: 'no-where', match: { noWhere: true }, action: 'review', review: { groups: ['approver'] } }],
      }),
    ],
  });
  alice = await t.token(['dev'], 'alice');
  auditorToken = await t.token(['auditor'], 'audrey');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  await t?.close();
  if (!skip) await direct(`DROP TABLE IF EXISTS ${held}; DROP TABLE IF EXISTS ${kept}; DROP TABLE IF EXISTS ${people}`);
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}

/** axe-core on the page as it stands: no serious or critical violation. */
async function axe(page: Page, where: string): Promise<void> {
  // on a settled page: a colour read mid-transition is neither the old nor the new one
  await page.waitForFunction(() => (globalThis as any).document.getAnimations().every((a: any) => a.playState !== 'running'));
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(AXE);
  const result = (await page.evaluate(() => (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ['violations'] }))) as { violations: { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary?: string }[] }[] };
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} [${n.failureSummary ?? ''}]`).join(', ')}`), [], `axe on ${where}`);
}

async function loginWithToken(page: Page, token: string): Promise<void> {
  await page.goto(t.httpUrl + '/');
  await page.getByRole('tab', { name: 'Token' }).click();
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Reviews' }).waitFor();
}

const count = async (name: string) => Number((await direct<{ n: string }>(`SELECT count(*) AS n FROM ${name}`))[0]!.n);

test('admin: log in, see a held psql query arrive live, approve it, psql completes; reject another', { skip }, async () => {
  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 }, acceptDownloads: true, colorScheme: 'light' });
  const page = await ctx.newPage();
  await page.goto(t.httpUrl + '/');
  await axe(page, 'login');
  await shot(page, 'login');
  await loginWithToken(page, t.gw.bootstrapToken!);

  // The session is an HttpOnly, SameSite cookie; no token in the URL or in storage.
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'warden_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => (globalThis as any).document.cookie), '', 'the page cannot read it');
  const storage = await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }) + JSON.stringify({ ...(globalThis as any).sessionStorage }));
  assert.doesNotMatch(storage, /wdn_|eyJ/);
  assert.doesNotMatch(page.url(), /wdn_|token/);
  await page.getByText('live', { exact: true }).waitFor();

  // psql runs a DELETE without WHERE: held, waiting (reviews.wait); the inbox shows it without a reload.
  const running = psql(t.pgPort, 'app', alice, ['-c', `DELETE FROM ${held}`]);
  const row = page.locator('[data-testid="reviews-table"] tr', { hasText: `DELETE FROM ${held}` });
  await row.waitFor({ timeout: 30_000 });
  assert.equal(await count(held), 3, 'held: the target is unchanged');
  await row.getByRole('link').click();
  const detail = page.getByTestId('review-detail');
  await detail.waitFor();
  assert.match(await detail.innerText(), /alice/);
  assert.match(await detail.innerText(), /no-where/);
  assert.equal(await detail.locator('.tok-keyword', { hasText: 'DELETE' }).count(), 1, 'the command is highlighted');
  assert.match(page.url(), /\/reviews\/r[0-9a-f]{12}$/, 'a deep link');
  const reviewUrl = page.url();
  await axe(page, 'review');
  await shot(page, 'review');
  await detail.getByLabel('Comment').fill('cleanup approved in the console');
  await detail.getByRole('button', { name: 'Approve' }).click();

  const done = await running;
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /DELETE 3/);
  assert.equal(await count(held), 0, 'psql ran it after the approval');
  await page.getByTestId('review-status').filter({ hasText: /approved|used/ }).waitFor();
  const id = reviewUrl.split('/').pop()!;
  const approved = (await t.events('review.approved')).find((e) => e.data.reviewId === id);
  assert.ok(approved, 'the approval is audited');
  assert.equal(approved.actor, 'admin');
  assert.equal(approved.data.comment, 'cleanup approved in the console');

  // Another: rejected in the console, psql is told, nothing ran.
  const second = psql(t.pgPort, 'app', alice, ['-c', `DELETE FROM ${kept}`]);
  await page.getByRole('link', { name: 'Reviews' }).click();
  const row2 = page.locator('[data-testid="reviews-table"] tr', { hasText: `DELETE FROM ${kept}` });
  await row2.waitFor({ timeout: 30_000 });
  await row2.getByRole('link').click();
  await page.getByTestId('review-detail').getByLabel('Comment').fill('not today');
  await page.getByTestId('review-detail').getByRole('button', { name: 'Reject' }).click();
  const refused = await second;
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /rejected/);
  assert.equal(await count(kept), 4, 'the rejected command never ran');

  // Phone width, dark theme.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: /Switch to dark theme/ }).click();
  await page.goto(reviewUrl);
  await page.getByTestId('review-detail').waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).document.documentElement.getAttribute('data-mantine-color-scheme')), 'dark');
  await axe(page, 'review, dark, phone');
  await shot(page, 'review-phone-dark');
  await ctx.close();
});

test('the requester sees their own review but cannot approve it; a revoked token ends the console session', { skip }, async () => {
  const ann = await t.token(['dev'], 'ann');
  const running = psql(t.pgPort, 'app', ann, ['-c', `UPDATE ${kept} SET id = id + 1`]);
  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await loginWithToken(page, ann);
  const row = page.locator('[data-testid="reviews-table"] tr', { hasText: `UPDATE ${kept}` });
  await row.waitFor({ timeout: 30_000 });
  await row.getByRole('link').click();
  const approve = page.getByTestId('review-detail').getByRole('button', { name: 'Approve' });
  assert.equal(await approve.isDisabled(), true);
  // and the gateway refuses it even when sent by hand from the console's own page
  const id = page.url().split('/').pop()!;
  const status = await page.evaluate(async (rid) => (await fetch(`/api/v1/reviews/${rid}/approve`, { method: 'POST', headers: { 'x-warden-console': '1', 'content-type': 'application/json' }, body: '{}' })).status, id);
  assert.equal(status, 403);
  await page.getByTestId('review-detail').getByRole('button', { name: 'Withdraw' }).click();
  const r = await running;
  assert.notEqual(r.code, 0);
  assert.equal(await count(kept), 4);
  // Revoking the API key she logged in with ends her console session at its next request.
  await page.getByTestId('review-status').filter({ hasText: 'rejected' }).waitFor();
  await t.gw.services.revokeToken('ann', 'test');
  // That request may be a refresh the live feed started for her withdrawal (its event can
  // land after the revocation), which logs her out under the click: then the link is gone
  // and the click has nothing to do. Either way the login must come back.
  const login = page.getByLabel('API token');
  await Promise.race([page.getByRole('link', { name: 'Connections' }).click(), login.waitFor()]).catch(() => {});
  await login.waitFor();
  await ctx.close();
});

test('auditor: find a session by command text, replay it, reveal a kept original (audited), export CSV', { skip }, async () => {
  const q = await psql(t.pgPort, 'app', alice, ['-c', `SELECT id, name, email FROM ${people} ORDER BY id`]);
  assert.equal(q.code, 0, q.stderr);
  assert.doesNotMatch(q.stdout, /grace\.hopper/, 'psql got the masked email');
  await t.gw.services.audit.flush();

  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  await loginWithToken(page, auditorToken);
  await page.getByRole('link', { name: 'Sessions' }).click();
  await page.getByLabel('Search commands').fill(`FROM ${people}`);
  await page.getByRole('button', { name: 'Apply' }).click();
  // the table of this search (not the unfiltered one it replaces)
  const rows = page.locator(`[data-testid="sessions-table"][data-command="FROM ${people}"] tbody tr`);
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1, 'only the session that ran it');
  await axe(page, 'sessions');
  await shot(page, 'sessions');
  await rows.first().getByRole('link').click();
  assert.match(page.url(), /\/sessions\/[0-9a-f-]{36}#e\d+$/, 'the search jumps to the command');

  const step = page.getByTestId('replay-step').filter({ hasText: `FROM ${people}` });
  await step.waitFor();
  const masked = await step.getByRole('table').first().innerText();
  assert.match(masked, /Grace/);
  assert.doesNotMatch(masked, /grace\.hopper@example\.com/, 'the replay shows masked rows');
  await axe(page, 'session replay');
  await shot(page, 'replay');

  await step.getByRole('button', { name: 'Reveal originals' }).click();
  await step.getByRole('table', { name: /Originals/ }).getByText(EMAIL).waitFor();
  const revealed = (await t.events('originals.revealed')).at(-1);
  assert.ok(revealed, 'the reveal is audited');
  assert.equal(revealed.actor, 'audrey');

  const [download] = await Promise.all([page.waitForEvent('download'), step.getByRole('link', { name: 'Export CSV' }).click()]);
  const csv = readFileSync((await download.path())!, 'utf8');
  assert.match(csv, /^id,name,email\r\n/);
  assert.match(csv, /1,Grace,/);
  assert.doesNotMatch(csv, /grace\.hopper@example\.com/, 'the export is masked');
  assert.ok((await t.events('result.exported')).some((e) => e.actor === 'audrey'), 'the export is audited');
  await shot(page, 'revealed');

  // The replay at phone width in the dark theme: still readable, still accessible.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: /Switch to dark theme/ }).click();
  await step.getByRole('link', { name: 'Export CSV' }).waitFor();
  await axe(page, 'replay, dark, phone');
  await shot(page, 'replay-phone-dark');
  await page.getByRole('button', { name: 'Open navigation' }).click();
  await page.getByRole('link', { name: 'Sessions' }).click();
  await page.locator('[data-testid="sessions-table"] tbody tr').first().waitFor();
  await axe(page, 'sessions, dark, phone');
  await shot(page, 'sessions-phone-dark');
  await page.setViewportSize({ width: 1280, height: 900 });

  // The audit page: a visit walks nothing (the gateway keeps its last verify); "Verify now"
  // walks the chain, shown with its key fingerprint and when it ran.
  const checks = t.gw.services.auditChecks;
  const before = checks.latest;
  await page.getByRole('link', { name: 'Audit' }).click();
  const status = page.getByTestId('audit-status');
  await status.waitFor();
  assert.equal(checks.latest, before, 'the visit started no walk');
  if (!before) assert.match(await status.innerText(), /Not verified since the gateway started/);
  await page.getByRole('button', { name: 'Verify now' }).click();
  await status.getByText('intact').waitFor();
  assert.notEqual(checks.latest, before, 'the button walked the chain');
  assert.match(await status.innerText(), /fingerprint: [0-9a-f]{16}/i);
  assert.match(await status.getByTestId('audit-verified-at').innerText(), /^Verified .* in \d+\.\d s: \d+ events checked, up to #\d+/);
  await axe(page, 'audit');
  await shot(page, 'audit');
  // events appended since are counted on the next visit, still without a walk
  const kept = checks.latest;
  assert.equal((await psql(t.pgPort, 'app', alice, ['-c', 'SELECT 1'])).code, 0);
  await t.gw.services.audit.flush();
  await page.getByRole('link', { name: 'Sessions' }).click();
  await page.getByRole('link', { name: 'Audit' }).click();
  await status.getByTestId('audit-since').filter({ hasText: /\d+ events appended since/ }).waitFor();
  assert.equal(checks.latest, kept);
  // an auditor is not offered the admin pages
  assert.equal(await page.getByRole('link', { name: 'Tokens' }).count(), 0);
  await ctx.close();
});

test('admin pages: connections with rules, tokens created once-shown and revoked, agents', { skip }, async () => {
  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await loginWithToken(page, t.gw.bootstrapToken!);
  await page.getByRole('link', { name: 'Connections' }).click();
  await page.getByRole('region', { name: 'Connection app' }).getByText(/no-where/).waitFor();
  await axe(page, 'connections');
  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByLabel('Name').fill('ci-bot');
  await page.getByLabel('Groups').fill('dev');
  await page.getByRole('button', { name: 'Create' }).click();
  const secret = await page.getByTestId('new-token').innerText();
  assert.match(secret, /^wdn_/);
  const row = page.getByRole('row', { name: /ci-bot/ });
  await row.waitFor();
  assert.doesNotMatch(await page.getByRole('table', { name: 'Tokens' }).innerText(), /wdn_/, 'the list never shows a secret');
  await axe(page, 'tokens');
  await shot(page, 'tokens');
  const works = await psql(t.pgPort, 'app', secret, ['-c', 'SELECT 1']);
  assert.equal(works.code, 0, works.stderr);
  await row.getByRole('button', { name: 'Revoke ci-bot' }).click();
  await row.waitFor({ state: 'detached' });
  const refused = await psql(t.pgPort, 'app', secret, ['-c', 'SELECT 1']);
  assert.notEqual(refused.code, 0, 'a revoked token no longer logs in');
  await page.getByRole('link', { name: 'Agents' }).click();
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
  await ctx.close();
});

test('admin: a live psql session is watched as it runs and ended from the console', { skip }, async () => {
  const marker = `live_${process.pid}`;
  const child = spawn('psql', [`host=127.0.0.1 port=${t.pgPort} user=app dbname=app sslmode=disable`, '-X'], { env: { ...process.env, PGPASSWORD: alice }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const until = async (f: () => boolean, what: string) => {
    for (let i = 0; i < 300 && !f(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(f(), what);
  };
  try {
    child.stdin.write(`SELECT 'first_${marker}';\n`);
    await until(() => out.includes(`first_${marker}`), `psql answered: ${out} ${err}`);
    await t.gw.services.audit.flush();
    const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    await loginWithToken(page, t.gw.bootstrapToken!);
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByLabel('Search commands').fill(`first_${marker}`);
    await page.getByRole('button', { name: 'Apply' }).click();
    const rows = page.locator(`[data-testid="sessions-table"][data-command="first_${marker}"] tbody tr`);
    await rows.first().getByText('live').waitFor();
    await rows.first().getByRole('link').click();
    // watched: a command typed now shows up without a reload
    child.stdin.write(`SELECT 'second_${marker}';\n`);
    await page.getByTestId('replay-step').filter({ hasText: `second_${marker}` }).waitFor({ timeout: 30_000 });
    const sessionId = page.url().split('/').pop()!.split('#')[0]!;
    await page.getByRole('button', { name: 'End session' }).click();
    await page.getByRole('status').getByText(/Ended/).waitFor();
    child.stdin.write(`SELECT 'third_${marker}';\n`);
    child.stdin.end();
    await exited;
    assert.doesNotMatch(out, new RegExp(`third_${marker}`), 'the command after the end never ran');
    assert.match(err, /ended by admin in the console/);
    await t.gw.services.audit.flush();
    const s = (await t.gw.services.getSession(sessionId)) as { endReason: string; events: { type: string; actor: string | null; data: any }[] };
    assert.equal(s.endReason, 'ended by admin in the console');
    assert.ok(s.events.some((e) => e.type === 'session.terminated' && e.actor === 'admin'), 'the end is audited with who did it');
    await ctx.close();
  } finally {
    child.kill();
  }
});

test('admin: access requests (`warden access request`) arrive in the inbox live; approved, the requester gets in; rejected, not', { skip }, async () => {
  const erin = await t.token(['contractors'], 'erin');
  const frank = await t.token(['contractors'], 'frank');
  const refused = await psql(t.pgPort, 'app', erin, ['-c', 'SELECT 1']);
  assert.notEqual(refused.code, 0, 'outside the connection\'s groups');

  const ctx = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await loginWithToken(page, t.gw.bootstrapToken!);
  await page.getByText('live', { exact: true }).waitFor();

  // Asked for with the CLI while the inbox is open: it shows without a reload.
  const req = await t.warden(erin, ['access', 'request', 'app', '--for', '30m', '--reason', 'incident 77 in the console']);
  assert.equal(req.code, 0, req.stderr);
  const row = page.locator('[data-testid="reviews-table"] tr', { hasText: 'access: incident 77 in the console' });
  await row.waitFor({ timeout: 30_000 });
  assert.match(await row.innerText(), /erin/);
  await row.getByRole('link').click();
  const detail = page.getByTestId('review-detail');
  await detail.waitFor();
  assert.match(await detail.innerText(), /Access for 30 min/);
  assert.match(await detail.innerText(), /incident 77 in the console/);
  await axe(page, 'access review');
  await shot(page, 'access-review');
  const id = page.url().split('/').pop()!;
  await detail.getByLabel('Comment').fill('for the incident');
  await detail.getByRole('button', { name: 'Approve' }).click();
  await page.getByTestId('review-status').filter({ hasText: 'approved' }).waitFor();
  // the grant holds at the gateway: erin's psql runs now
  const ok = await psql(t.pgPort, 'app', erin, ['-tAc', 'SELECT 76 + 1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), '77');
  const approved = (await t.events('review.approved')).find((e) => e.data.reviewId === id);
  assert.ok(approved, 'the approval is audited');
  assert.equal(approved.actor, 'admin');
  assert.equal(approved.data.kind, 'access');
  assert.equal(approved.data.comment, 'for the incident');

  // Another, through the API the CLI uses: rejected in the console, no access.
  const asked = await t.api(frank, 'POST', '/api/v1/access-requests', { connection: 'app', duration: '1h', reason: 'just curious' });
  assert.equal(asked.status, 201);
  await page.getByRole('link', { name: 'Reviews' }).click();
  const row2 = page.locator('[data-testid="reviews-table"] tr', { hasText: 'access: just curious' });
  await row2.waitFor({ timeout: 30_000 });
  await row2.getByRole('link').click();
  await page.getByTestId('review-detail').getByLabel('Comment').fill('no');
  await page.getByTestId('review-detail').getByRole('button', { name: 'Reject' }).click();
  await page.getByTestId('review-status').filter({ hasText: 'rejected' }).waitFor();
  const denied = await psql(t.pgPort, 'app', frank, ['-c', 'SELECT 1']);
  assert.notEqual(denied.code, 0, 'a rejected request grants nothing');
  assert.ok((await t.events('review.rejected')).some((e) => e.data.reviewId === asked.body.id && e.actor === 'admin'));
  await ctx.close();
});
