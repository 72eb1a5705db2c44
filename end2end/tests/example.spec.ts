import { test, expect } from '@playwright/test';
import { countRequests, refreshToken, uniqueEmail, waitForAccessExpiry, PASSWORD } from './helpers';

// examples/minimal: another app on the engine's public API gets the same session handling.

test('the minimal example: SSR refresh past expiry, one refresh and a retry for its server function, sign-out', async ({
  page,
  context,
}) => {
  const email = uniqueEmail('minimal');
  const res = await page.request.post('/api/auth/register', { data: { email, password: PASSWORD } });
  expect(res.status()).toBe(201);

  // Past the access token's expiry, a full page load refreshes on the server and renders.
  await waitForAccessExpiry(context);
  const before = await refreshToken(context);
  const response = await page.goto('/private');
  expect(response?.status()).toBe(200);
  await expect(page.getByTestId('message')).toContainText(email);
  expect(await refreshToken(context)).not.toBe(before);
  await page.waitForSelector('body[data-hydrated]');

  // Past it again, the hydrated page's server function gets one refresh and one retry.
  const refreshes = countRequests(page, '/api/auth/refresh');
  const calls = countRequests(page, /^\/api\/secret_message/);
  await waitForAccessExpiry(context);
  await page.getByTestId('ask').click();
  await expect.poll(() => calls.length).toBe(2);
  await expect(page.getByTestId('message')).toContainText(email);
  await expect(page.getByTestId('error')).toHaveCount(0);
  expect(refreshes).toHaveLength(1);

  // Signing out ends the session: the private page sends the visitor to sign in.
  await page.getByTestId('sign-out').click();
  await expect(page).toHaveURL(/\/$/);
  await page.goto('/private');
  await expect(page).toHaveURL(/\/login\?next=\/private$/);
});

test('the minimal example signs in through its own form', async ({ page, playwright }) => {
  const email = uniqueEmail('minimal-form');
  const api = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  expect((await api.post('/api/auth/register', { data: { email, password: PASSWORD } })).status()).toBe(201);
  await api.dispose();
  await page.goto('/login');
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/private$/);
  await expect(page.getByTestId('message')).toContainText(email);
});

test('the minimal example shows the avatar its Content-Security-Policy allows from another host', async ({ page }) => {
  // The avatar host answers from here: nothing leaves the machine. A request the policy refuses
  // never reaches this handler, and the image stays empty.
  await page.route('https://www.gravatar.com/**', (route) =>
    route.fulfill({
      contentType: 'image/svg+xml',
      body: '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32"/></svg>',
    }),
  );
  const email = uniqueEmail('minimal-csp');
  expect((await page.request.post('/api/auth/register', { data: { email, password: PASSWORD } })).status()).toBe(201);
  const response = await page.goto('/private');
  const policy = response?.headers()['content-security-policy'] ?? '';
  expect(policy).toContain("img-src 'self' data: https://www.gravatar.com;");
  expect(policy).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval';/);
  await expect
    .poll(() => page.getByTestId('avatar').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(32);
});
