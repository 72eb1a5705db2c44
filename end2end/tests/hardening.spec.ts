import { test, expect, type Page } from '@playwright/test';
import { refreshToken, signOutEverywhere, signUp, waitForAccessExpiry, waitForHydration } from './helpers';

/** Collects Content-Security-Policy violations the page reports. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

test('signing out after the access cookie expired ends the session: its refresh token is refused afterwards', async ({
  page,
  context,
  playwright,
}) => {
  const email = await signUp(page, 'signout');
  await page.goto('/notes');
  await waitForHydration(page);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  const old = await refreshToken(context);
  expect(old).toBeTruthy();
  await waitForAccessExpiry(context);

  await page.getByTestId('sign-out').click();
  await expect(page.getByTestId('signed-in-as')).toHaveCount(0);
  expect(await refreshToken(context)).toBeFalsy();

  // The refresh cookie the browser had, replayed from outside, no longer opens the session.
  const outside = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  const res = await outside.post('/api/auth/refresh', { data: { refresh_token: old } });
  expect(res.status()).toBe(401);
  expect((await res.json()).error).toBe('invalid_refresh_token');
  await outside.dispose();
});

test('pages hydrate under their Content-Security-Policy with no violation', async ({ page }) => {
  const violations = cspViolations(page);
  for (const path of ['/', '/login', '/register']) {
    const res = await page.goto(path);
    expect(res?.headers()['content-security-policy'], path).toContain("frame-ancestors 'none'");
    expect(res?.headers()['x-frame-options'], path).toBe('DENY');
    await waitForHydration(page);
  }
  await signUp(page, 'csp');
  const res = await page.goto('/notes');
  expect(res?.headers()['cache-control']).toBe('no-store');
  await waitForHydration(page);
  await page.getByTestId('note-title').fill('Allowed by the policy');
  await page.getByTestId('note-submit').click();
  await expect(page.getByTestId('note-title-text')).toHaveText(['Allowed by the policy']);
  expect(violations).toEqual([]);
});

test('an unknown address shows a 404 page that still knows who is signed in', async ({ page }) => {
  const email = await signUp(page, 'notfound');
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toBeVisible();
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  await waitForHydration(page);
});

test('a full page load after the session ended lands on sign-in with the message', async ({
  page,
  context,
  playwright,
}) => {
  const email = await signUp(page, 'ended');
  // Signed out everywhere from another client; this browser still holds its cookies.
  await signOutEverywhere((o) => playwright.request.newContext(o), test.info().project.use.baseURL, email);
  await page.goto('/notes');
  await expect(page).toHaveURL(/\/login\?next=\/notes&reason=session_ended$/);
  await expect(page.getByTestId('session-ended')).toBeVisible();
});
