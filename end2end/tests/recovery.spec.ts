import { expect, test, type Page } from '@playwright/test';
import smtpTester from 'smtp-tester';
import { PASSWORD, countRequests, signUp, uniqueEmail, waitForHydration } from './helpers';

// A real SMTP receiver on the port the notes server sends to (playwright.config.ts, SMTP_URL):
// the messages the server's outbox delivers arrive here, and the tests follow their links.
const SMTP_PORT = Number(process.env.E2E_SMTP_PORT ?? '3125');
let mailbox: ReturnType<typeof smtpTester.init>;
/** Every message received, in order: bound from the start, so none arrives unseen. */
const received: { to: string; text: string }[] = [];

test.beforeAll(() => {
  mailbox = smtpTester.init(SMTP_PORT);
  mailbox.bind((_all: unknown, _id: unknown, email: { receivers: Record<string, true>; body?: string }) => {
    for (const to of Object.keys(email.receivers)) received.push({ to, text: email.body ?? '' });
  });
});

test.afterAll(() => {
  mailbox.stop(() => {});
});

/** The link to `page` in the first unread message to `to` that has one (waits for it). */
async function linkIn(to: string, page: string): Promise<string> {
  const pattern = new RegExp(`https?://\\S+?${page}\\?token=[A-Za-z0-9_-]+`);
  let found: string | undefined;
  await expect
    .poll(
      () => {
        const at = received.findIndex((m) => m.to === to && pattern.test(m.text));
        if (at >= 0) found = received.splice(at, 1)[0].text.match(pattern)![0];
        return found !== undefined;
      },
      { timeout: 15_000, intervals: [100] },
    )
    .toBe(true);
  const url = new URL(found!);
  return url.pathname + url.search;
}

async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await waitForHydration(page);
}

test('a reset from another browser, with a scanner opening the link first, signs the old sessions out', async ({ browser }) => {
  // Context A: signed in and working.
  const a = await browser.newContext();
  const pageA = await a.newPage();
  const email = await signUp(pageA, 'reset');
  await linkIn(email, '/verify-email'); // the registration's message
  const oldTab = await a.newPage();
  await openHydrated(pageA, '/notes');
  await openHydrated(oldTab, '/sessions');
  await pageA.getByTestId('note-title').fill('before the reset');
  await pageA.getByTestId('note-submit').click();
  await expect(pageA.getByTestId('note-title-text').getByText('before the reset', { exact: true })).toBeVisible();

  // Context B: forgot password, from the sign-in page.
  const b = await browser.newContext();
  const pageB = await b.newPage();
  await openHydrated(pageB, '/login');
  await pageB.getByTestId('forgot-link').click();
  await expect(pageB).toHaveURL(/\/forgot-password$/);
  await pageB.getByTestId('email').fill(email);
  await pageB.getByTestId('submit').click();
  await expect(pageB.getByTestId('reset-sent')).toBeVisible();
  const link = await linkIn(email, '/reset-password');

  // A mail scanner opens the link twice, in a context of its own: it sees the form, and the
  // link still works afterwards.
  const scanner = await browser.newContext();
  const scan = await scanner.newPage();
  for (let i = 0; i < 2; i++) {
    const res = await scan.goto(link);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['referrer-policy']).toBe('no-referrer');
    await expect(scan.getByTestId('password')).toBeVisible();
  }
  await scanner.close();

  // B uses it and lands signed in.
  await openHydrated(pageB, link);
  await pageB.getByTestId('password').fill('a brand new password');
  await pageB.getByTestId('submit').click();
  await expect(pageB).toHaveURL(/\/notes$/);
  await expect(pageB.getByTestId('signed-in-as')).toHaveText(email);
  await pageB.reload();
  await expect(pageB.getByTestId('signed-in-as')).toHaveText(email); // SSR sees the new cookie

  // A's next action: the session ended, with the layer's message.
  const refreshes = countRequests(pageA, '/api/auth/refresh');
  await pageA.getByTestId('note-title').fill('after the reset');
  await pageA.getByTestId('note-submit').click();
  await expect(pageA).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
  await expect(pageA.getByTestId('session-ended')).toBeVisible();
  expect(refreshes.length).toBeLessThanOrEqual(1);
  // An old tab of A: the session ended in every tab of the browser, each sent to sign in.
  await expect(oldTab).toHaveURL(/\/login\?next=\/sessions&reason=session_ended$/);
  await expect(oldTab.getByTestId('session-ended')).toBeVisible();

  // The old password no longer signs in; the new one does.
  const api = b.request;
  expect((await api.post('/api/auth/login', { data: { email, password: PASSWORD } })).status()).toBe(401);
  expect((await api.post('/api/auth/login', { data: { email, password: 'a brand new password' } })).status()).toBe(200);
  await a.close();
  await b.close();
});

test('a used reset link offers a new one', async ({ page }) => {
  const email = await signUp(page, 'used');
  await linkIn(email, '/verify-email');
  await page.context().clearCookies();
  expect((await page.request.post('/api/auth/password/forgot', { data: { email } })).status()).toBe(202);
  const link = await linkIn(email, '/reset-password');
  const token = new URL(link, 'http://x').searchParams.get('token');
  expect((await page.request.post('/api/auth/password/reset', { data: { token, password: 'a brand new password' } })).status()).toBe(200);
  await page.context().clearCookies();
  await page.goto(link);
  await expect(page.getByTestId('invalid-link')).toBeVisible();
  await expect(page.getByTestId('invalid-link').getByRole('link')).toHaveAttribute('href', '/forgot-password');
});

test('following the verification link hides the notice in every tab', async ({ page, context }) => {
  const email = await signUp(page, 'verify');
  const link = await linkIn(email, '/verify-email');
  const other = await context.newPage();
  await openHydrated(page, '/notes');
  await openHydrated(other, '/sessions');
  await expect(page.getByTestId('verify-notice')).toBeVisible();
  await expect(other.getByTestId('verify-notice')).toBeVisible();

  const third = await context.newPage();
  await openHydrated(third, link);
  await expect(third.getByTestId('email-verified')).toBeVisible();
  await expect(third.getByTestId('verify-notice')).toHaveCount(0);
  await expect(page.getByTestId('verify-notice')).toHaveCount(0);
  await expect(other.getByTestId('verify-notice')).toHaveCount(0);
  expect((await (await page.request.get('/api/me')).json()).email_verified).toBe(true);
});

test('the forms work before hydration: forgot, reset and change the password as plain posts', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const email = uniqueEmail('plain');
  expect((await page.request.post('/api/auth/register', { data: { email, password: PASSWORD } })).status()).toBe(201);
  await linkIn(email, '/verify-email');
  await context.clearCookies();
  await page.goto('/forgot-password');
  await page.getByTestId('email').fill(email);
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('reset-sent')).toBeVisible();
  const link = await linkIn(email, '/reset-password');
  await page.goto(link);
  await page.getByTestId('password').fill('a brand new password');
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/notes$/);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);

  await page.goto('/account');
  await page.getByTestId('current-password').fill('a brand new password');
  await page.getByTestId('new-password').fill('an even newer password');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('password-changed')).toBeVisible();
  await page.goto('/notes');
  await expect(page.getByTestId('signed-in-as')).toHaveText(email); // this device stays signed in
  await context.close();
});

test('changing the password signs the other devices out and keeps this one', async ({ browser }) => {
  const here = await browser.newContext();
  const page = await here.newPage();
  const email = await signUp(page, 'change');
  const there = await browser.newContext();
  const other = await there.newPage();
  expect((await other.request.post('/api/auth/login', { data: { email, password: PASSWORD } })).status()).toBe(200);

  await openHydrated(page, '/account');
  await page.getByTestId('current-password').fill(PASSWORD);
  await page.getByTestId('new-password').fill('a brand new password');
  await page.getByTestId('submit').click();
  await expect(page.getByTestId('password-changed')).toBeVisible();
  await openHydrated(page, '/sessions');
  await expect(page.getByTestId('devices').locator('li')).toHaveCount(1);

  await other.goto('/notes');
  await expect(other).toHaveURL(/\/login\?next=%2Fnotes|\/login\?next=\/notes/);
  await here.close();
  await there.close();
});
