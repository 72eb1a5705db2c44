import { expect, type APIRequestContext, type BrowserContext, type Page } from '@playwright/test';

export const PASSWORD = 'correct horse battery';

export function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

/** Registers through the JSON API; the page's context keeps the cookies. */
export async function signUp(page: Page, tag: string): Promise<string> {
  const email = uniqueEmail(tag);
  const res = await page.request.post('/api/auth/register', { data: { email, password: PASSWORD } });
  expect(res.status()).toBe(201);
  return email;
}

/** Registers an account through the API, then drops the cookies: an account, signed out. */
export async function registerSignedOut(page: Page, tag: string): Promise<string> {
  const email = await signUp(page, tag);
  await page.context().clearCookies();
  return email;
}

/** Waits until the browser has dropped the access cookie (its Max-Age ran out). */
export async function waitForAccessExpiry(context: BrowserContext): Promise<void> {
  await expect
    .poll(async () => (await context.cookies()).some((c) => c.name === 'access_token'), {
      timeout: 10_000,
      intervals: [250],
    })
    .toBe(false);
}

export async function refreshToken(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies()).find((c) => c.name === 'refresh_token')?.value;
}

/** Counts requests to a path (method POST) in a page or a context. */
export function countRequests(target: Page | BrowserContext, path: string | RegExp) {
  const seen: { url: string; headers: Record<string, string> }[] = [];
  target.on('request', (r) => {
    const url = new URL(r.url());
    const hit = typeof path === 'string' ? url.pathname === path : path.test(url.pathname);
    if (hit && r.method() === 'POST') seen.push({ url: r.url(), headers: r.headers() });
  });
  return seen;
}

/** Waits until the page is hydrated (the hydrate entry sets the flag once the wasm took over). */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForFunction(() => (window as any).__sessionflow_hydrated === true, null, { timeout: 30_000 });
}

/** Signs the account out everywhere from another device (a fresh sign-in of its own, so nothing
 * depends on this browser's access token still being valid). */
export async function signOutEverywhere(
  newContext: (options: { baseURL?: string }) => Promise<APIRequestContext>,
  baseURL: string | undefined,
  email: string,
): Promise<void> {
  const elsewhere = await newContext({ baseURL });
  expect((await elsewhere.post('/api/auth/login', { data: { email, password: PASSWORD } })).status()).toBe(200);
  expect((await elsewhere.post('/api/auth/logout-all')).status()).toBe(204);
  await elsewhere.dispose();
}
