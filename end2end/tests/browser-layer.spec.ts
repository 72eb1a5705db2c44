import { test, expect, type Page } from '@playwright/test';
import { PASSWORD, countRequests, refreshToken, signUp, waitForAccessExpiry, waitForHydration } from './helpers';

const REFRESH = '/api/auth/refresh';

async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
}

test('after expiry, a client-side navigation firing two server functions at once makes one refresh', async ({ page, context }) => {
  const email = await signUp(page, 'parallel');
  await openHydrated(page, '/sessions');
  const refreshes = countRequests(page, REFRESH);
  const calls = countRequests(page, /^\/api\/(list_notes|count_devices|current_user)/);
  await waitForAccessExpiry(context);

  await page.getByRole('link', { name: 'Notes', exact: true }).click();
  await expect(page).toHaveURL(/\/notes$/);
  await expect(page.getByTestId('notes-empty')).toBeVisible();
  await expect(page.getByTestId('device-count')).toContainText(email);
  await expect(page.getByTestId('error')).toHaveCount(0);
  expect(refreshes).toHaveLength(1);
  const names = new Set(calls.map((c) => new URL(c.url).pathname.replace(/\d+$/, '')));
  // The user is the page's one resource, loaded with the page: a navigation does not ask again.
  expect([...names].sort()).toEqual(['/api/count_devices', '/api/list_notes']);
});

test('two tabs idle past expiry that act at once both succeed, with at most two refreshes', async ({ page, context }) => {
  await signUp(page, 'tabs');
  const other = await context.newPage();
  await openHydrated(page, '/notes');
  await openHydrated(other, '/notes');
  const refreshes = countRequests(context, REFRESH);
  await waitForAccessExpiry(context);

  await page.getByTestId('note-title').fill('from tab one');
  await other.getByTestId('note-title').fill('from tab two');
  await Promise.all([page.getByTestId('note-submit').click(), other.getByTestId('note-submit').click()]);

  await expect(page.getByTestId('note-title-text').filter({ hasText: 'from tab one' })).toHaveCount(1);
  await expect(other.getByTestId('note-title-text').filter({ hasText: 'from tab two' })).toHaveCount(1);
  await other.reload();
  await expect(other.getByTestId('note-title-text')).toHaveCount(2);
  expect(refreshes.length).toBeGreaterThanOrEqual(1);
  expect(refreshes.length).toBeLessThanOrEqual(2);
  await expect(page).toHaveURL(/\/notes$/);
  await expect(other).toHaveURL(/\/notes$/);
});

test('a server function that always answers 401 gets one refresh and one retry, then an error', async ({ page }) => {
  await signUp(page, 'loop');
  await openHydrated(page, '/sessions');
  const refreshes = countRequests(page, REFRESH);
  const listCalls = countRequests(page, /^\/api\/list_notes/);
  await page.route(/\/api\/list_notes/, (route) =>
    route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'token_expired', message: 'The access token has expired.' }),
    }),
  );
  await page.getByRole('link', { name: 'Notes', exact: true }).click();
  await expect(page.getByTestId('error')).toBeVisible();
  await expect(page.getByTestId('error')).toHaveAttribute('data-code', 'token_expired');
  expect(listCalls).toHaveLength(2);
  expect(refreshes).toHaveLength(1);
});

test('a note whose request the hook aborts mid-flight is created exactly once', async ({ page }) => {
  await signUp(page, 'abort');
  await openHydrated(page, '/notes');
  const creates = countRequests(page, /^\/api\/create_note/);
  const refreshes = countRequests(page, REFRESH);

  // The first create reaches the server, but its answer is held back until the hook has aborted
  // it and re-sent it (the retry arriving is the signal; 15 s is only a backstop).
  let firstCreate = true;
  let retryArrived = () => {};
  const retried = new Promise<void>((resolve) => (retryArrived = resolve));
  await page.route(/\/api\/create_note/, async (route) => {
    if (!firstCreate) {
      retryArrived();
      return route.continue();
    }
    firstCreate = false;
    const response = await route.fetch();
    await Promise.race([retried, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    await route.fulfill({ response }).catch(() => {});
  });
  // Meanwhile another call fails with 401: the hook aborts the create, refreshes, re-sends both.
  let failDevices = true;
  await page.route(/\/api\/list_devices/, (route) => {
    if (!failDevices) return route.continue();
    failDevices = false;
    return route.fulfill({
      status: 401,
      contentType: 'application/json',
      body: JSON.stringify({ error: 'token_expired', message: 'The access token has expired.' }),
    });
  });

  await page.getByTestId('note-title').fill('exactly once');
  await page.getByTestId('note-submit').click();
  await expect.poll(() => creates.length).toBe(1);
  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await expect(page.getByTestId('devices')).toBeVisible();
  await expect.poll(() => creates.length).toBe(2);
  expect(creates[0].headers['idempotency-key']).toBeTruthy();
  expect(creates[1].headers['idempotency-key']).toBe(creates[0].headers['idempotency-key']);
  expect(refreshes).toHaveLength(1);

  await page.getByRole('link', { name: 'Notes', exact: true }).click();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'exactly once' })).toHaveCount(1);
  await page.reload();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'exactly once' })).toHaveCount(1);
});

test('a refresh answering 500 keeps the user signed in and offers a retry', async ({ page, context }) => {
  await signUp(page, 'flaky');
  await openHydrated(page, '/notes');
  await page.route(REFRESH, (route) => route.fulfill({ status: 500, body: 'boom' }));
  const before = await refreshToken(context);
  await waitForAccessExpiry(context);

  await page.getByTestId('note-title').fill('saved on the second try');
  await page.getByTestId('note-submit').click();
  await expect(page.getByTestId('error').first()).toHaveAttribute('data-code', 'unavailable');
  await expect(page.getByTestId('retry').first()).toBeVisible();
  await expect(page).toHaveURL(/\/notes$/);
  expect(await refreshToken(context)).toBe(before);

  await page.unroute(REFRESH);
  await page.getByTestId('retry').first().click();
  await expect(page.getByTestId('note-title-text').filter({ hasText: 'saved on the second try' })).toHaveCount(1);
});

test('a refresh rejected with 401 sends the user to sign in, with a message and the way back', async ({ page, context, playwright, baseURL }) => {
  const email = await signUp(page, 'ended');
  await openHydrated(page, '/notes');
  // Signed out everywhere from another device: this tab's refresh token is dead on the server.
  const elsewhere = await playwright.request.newContext({ baseURL });
  const login = await elsewhere.post('/api/auth/login', { data: { email, password: PASSWORD } });
  expect(login.status()).toBe(200);
  expect((await elsewhere.post('/api/auth/logout-all')).status()).toBe(204);
  await elsewhere.dispose();
  const refreshes = countRequests(page, REFRESH);
  await waitForAccessExpiry(context);

  await page.getByTestId('note-title').fill('never saved');
  await page.getByTestId('note-submit').click();
  await expect(page).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
  await expect(page.getByTestId('session-ended')).toBeVisible();
  expect(refreshes).toHaveLength(1);
  expect(await refreshToken(context)).toBeUndefined();
});
