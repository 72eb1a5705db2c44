import { test, expect, type BrowserContext, type Page } from '@playwright/test';
import { countRequests, refreshToken, signOutEverywhere, signUp, waitForAccessExpiry, waitForHydration } from './helpers';

// docs/browser.md: one refresh between tabs, timeouts, the session ending everywhere, a revoked
// device, browsers without crypto.randomUUID, an app policy for 503, and session state.

const REFRESH = '/api/auth/refresh';

async function openNotes(context: BrowserContext, n: number): Promise<Page[]> {
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto('/notes');
    await waitForHydration(page);
    pages.push(page);
  }
  return pages;
}

async function addNote(page: Page, title: string) {
  await page.getByTestId('note-title').fill(title);
  await page.getByTestId('note-submit').click();
}

test('four tabs expiring together make exactly one refresh between them and all keep working', async ({
  page,
  context,
}) => {
  await signUp(page, 'four-tabs');
  const tabs = await openNotes(context, 4);
  const refreshes = countRequests(context, REFRESH);
  await waitForAccessExpiry(context);

  await Promise.all(tabs.map((tab, i) => tab.getByTestId('note-title').fill(`from tab ${i}`)));
  await Promise.all(tabs.map((tab) => tab.getByTestId('note-submit').click()));
  for (const [i, tab] of tabs.entries()) {
    await expect(tab.getByTestId('note-title-text').filter({ hasText: `from tab ${i}` })).toHaveCount(1);
    await expect(tab).toHaveURL(/\/notes$/);
  }
  expect(refreshes).toHaveLength(1);
});

test('tabs whose failures arrive a little apart, while the refresh is slow, still make one refresh', async ({
  page,
  context,
}) => {
  await signUp(page, 'staggered-tabs');
  const tabs = await openNotes(context, 4);
  const refreshes = countRequests(context, REFRESH);
  // A loaded machine: the refresh takes a while, and the tabs' 401s do not arrive together. Each
  // tab's claim lands inside the previous tab's claim window (120 ms) but after it opened, so a
  // later tab never hears an earlier tab's claim.
  await context.route(REFRESH, async (route) => {
    await new Promise((r) => setTimeout(r, 700));
    await route.continue();
  });
  await waitForAccessExpiry(context);

  await Promise.all(tabs.map((tab, i) => tab.getByTestId('note-title').fill(`staggered ${i}`)));
  await Promise.all(
    tabs.map(async (tab, i) => {
      await new Promise((r) => setTimeout(r, i * 70));
      await tab.getByTestId('note-submit').click();
    }),
  );
  for (const [i, tab] of tabs.entries()) {
    await expect(tab.getByTestId('note-title-text').filter({ hasText: `staggered ${i}` })).toHaveCount(1);
    await expect(tab).toHaveURL(/\/notes$/);
  }
  expect(refreshes).toHaveLength(1);
});

test('a refresh that hangs times out as a retryable error, keeps the session, and Retry works', async ({
  page,
  context,
}) => {
  await context.addInitScript(() => {
    (window as any).sessionflowConfig = { refreshTimeoutMs: 1500 };
  });
  await signUp(page, 'hung');
  await page.goto('/notes');
  await waitForHydration(page);
  // The refresh reaches a server that never answers.
  await page.route(REFRESH, () => {});
  const before = await refreshToken(context);
  await waitForAccessExpiry(context);

  await addNote(page, 'after the timeout');
  const error = page.getByTestId('error').first();
  await expect(error).toHaveAttribute('data-code', 'unavailable');
  await expect(error).toContainText('did not answer');
  await expect(page).toHaveURL(/\/notes$/);
  expect(await refreshToken(context)).toBe(before);

  await page.unroute(REFRESH);
  await page.getByTestId('retry').first().click();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'after the timeout' })).toHaveCount(1);
});

test('a session that ends while three tabs are open sends all three to sign-in with the message', async ({
  page,
  context,
  playwright,
}) => {
  const email = await signUp(page, 'three-tabs');
  const tabs = await openNotes(context, 3);
  await signOutEverywhere((o) => playwright.request.newContext(o), test.info().project.use.baseURL, email);
  const refreshes = countRequests(context, REFRESH);

  // Only the first tab does anything; the others learn from it.
  await addNote(tabs[0], 'never saved');
  for (const tab of tabs) {
    await expect(tab).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
    await expect(tab.getByTestId('session-ended')).toBeVisible();
  }
  expect(refreshes).toHaveLength(1);
});

test('a tab whose device was revoked from another session lands on sign-in', async ({ page, browser }) => {
  await signUp(page, 'revoked');
  await page.goto('/notes');
  await waitForHydration(page);
  // The same account, signed in on another device, revokes this one from the devices page.
  const other = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const email = await page.getByTestId('signed-in-as').textContent();
  const login = await other.request.post('/api/auth/login', {
    data: { email, password: 'correct horse battery' },
  });
  expect(login.status()).toBe(200);
  const otherPage = await other.newPage();
  await otherPage.goto('/sessions');
  await waitForHydration(otherPage);
  await expect(otherPage.getByTestId('revoke')).toHaveCount(1);
  await otherPage.getByTestId('revoke').click();
  await expect(otherPage.getByTestId('device')).toHaveCount(1);
  await other.close();

  await addNote(page, 'from a revoked device');
  await expect(page).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
  await expect(page.getByTestId('session-ended')).toBeVisible();
});

test('invalid_token (an access token whose session is gone) tries one refresh, whose 401 ends the session', async ({
  page,
  context,
  playwright,
}) => {
  const email = await signUp(page, 'invalid-token');
  await page.goto('/notes');
  await waitForHydration(page);
  await signOutEverywhere((o) => playwright.request.newContext(o), test.info().project.use.baseURL, email);
  // What the server answers a revoked device whose access token has not expired yet (with a
  // 2 s token the race to act before expiry is not worth running for real).
  await page.route(/\/api\/create_note/, (route) =>
    route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'invalid_token', message: 'The access token is not valid.' }),
    }),
  );
  const refreshes = countRequests(page, REFRESH);
  await addNote(page, 'never saved');
  await expect(page).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
  await expect(page.getByTestId('session-ended')).toBeVisible();
  expect(refreshes).toHaveLength(1);
});

test('a browser without crypto.randomUUID still creates a note, exactly once', async ({ page, context }) => {
  await context.addInitScript(() => {
    delete (Crypto.prototype as any).randomUUID;
  });
  await signUp(page, 'no-uuid');
  await page.goto('/notes');
  await waitForHydration(page);
  expect(await page.evaluate(() => typeof (crypto as any).randomUUID)).toBe('undefined');
  const creates = countRequests(page, /^\/api\/create_note/);
  const executed: number[] = [];
  page.on('response', (r) => {
    if (/\/api\/create_note/.test(new URL(r.url()).pathname) && r.status() !== 401) executed.push(r.status());
  });
  await addNote(page, 'keyed without randomUUID');
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'keyed without randomUUID' })).toHaveCount(1);
  // With a 2 s access token the first attempt may meet its expiry (401, not executed) and be
  // re-sent once after the refresh: one executed create, every attempt under one key.
  expect(executed).toHaveLength(1);
  expect(creates.length).toBeLessThanOrEqual(2);
  expect(new Set(creates.map((c) => c.headers['idempotency-key'])).size).toBe(1);
  expect(creates[0].headers['idempotency-key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await page.reload();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'keyed without randomUUID' })).toHaveCount(1);
});

test("the app's policy waits out a 503 with Retry-After and succeeds on the retry", async ({ page }) => {
  await signUp(page, 'busy');
  await page.goto('/notes');
  await waitForHydration(page);
  const sent: number[] = [];
  let first = true;
  await page.route(/\/api\/create_note/, async (route) => {
    sent.push(Date.now());
    if (first) {
      first = false;
      await route.fulfill({
        status: 503,
        headers: { 'retry-after': '1' },
        contentType: 'application/json',
        body: JSON.stringify({ error: 'unavailable', message: 'The server is busy.' }),
      });
    } else {
      await route.continue();
    }
  });
  await addNote(page, 'after a back-off');
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'after a back-off' })).toHaveCount(1);
  await expect(page.getByTestId('error')).toHaveCount(0);
  // The retry waited for Retry-After. (With a 2 s access token the retry may itself meet a
  // 401 and go through one refresh: another cause, retried once too.)
  expect(sent.length).toBeGreaterThanOrEqual(2);
  expect(sent[1] - sent[0]).toBeGreaterThanOrEqual(900);
  await page.reload();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'after a back-off' })).toHaveCount(1);
});

test('signing out in one tab shows the other tab signed out, without a reload', async ({ page, context }) => {
  const email = await signUp(page, 'two-headers');
  const [one, two] = await openNotes(context, 2);
  await expect(two.getByTestId('signed-in-as')).toHaveText(email);
  await one.getByTestId('sign-out').click();
  await expect(one.getByTestId('signed-in-as')).toHaveCount(0);
  await expect(two.getByTestId('signed-in-as')).toHaveCount(0);
  await expect(two.getByRole('link', { name: 'Sign in' })).toBeVisible();
});

test('a streaming server function after expiry gets the same single refresh and retry before its first chunk', async ({
  page,
  context,
}) => {
  await signUp(page, 'stream');
  for (const title of ['first streamed', 'second streamed']) {
    expect((await page.request.post('/api/notes', { data: { title, body: 'b' } })).status()).toBe(201);
  }
  await page.goto('/notes');
  await waitForHydration(page);
  const refreshes = countRequests(page, REFRESH);
  const exports = countRequests(page, /^\/api\/export_notes/);
  await waitForAccessExpiry(context);
  await page.getByTestId('export').click();
  const text = page.getByTestId('export-text');
  await expect(text).toContainText('# first streamed');
  await expect(text).toContainText('# second streamed');
  expect(refreshes).toHaveLength(1);
  expect(exports).toHaveLength(2);
});

test('the browser layer refreshes at the path the server names in the page', async ({ page, context }) => {
  await signUp(page, 'named-path');
  // The server names its refresh path in every page; a page naming another one is obeyed.
  const tag =
    '<meta name="sessionflow" content="{&quot;loginPath&quot;:&quot;/login&quot;,&quot;refreshPath&quot;:&quot;/api/auth/refresh&quot;}">';
  await page.route('**/notes', async (route) => {
    const response = await route.fetch();
    const html = await response.text();
    expect(html).toContain(`<head>${tag}`);
    const renamed = html.replace(tag, tag.replace('/api/auth/refresh', '/api/auth/refresh?named=by-the-page'));
    await route.fulfill({ response, body: renamed });
  });
  await page.goto('/notes');
  await waitForHydration(page);
  const refreshes = countRequests(context, REFRESH);
  await waitForAccessExpiry(context);

  await addNote(page, 'refreshed where the page said');
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'refreshed where the page said' })).toHaveCount(1);
  expect(refreshes.map((r) => new URL(r.url).search)).toEqual(['?named=by-the-page']);
});
