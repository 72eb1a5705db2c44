import { test, expect } from '@playwright/test';
import { waitForHydration } from './helpers';

test('the home page is server-rendered and then hydrated', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  expect(await response!.text()).toContain('Private notes that never sign you out');
  await waitForHydration(page);
  // Hydrated, the router navigates in place: following a link loads no new document.
  const documents: string[] = [];
  page.on('request', (r) => {
    if (r.resourceType() === 'document') documents.push(r.url());
  });
  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL(/\/register$/);
  await expect(page.getByTestId('email')).toBeVisible();
  expect(documents).toEqual([]);
});

test('the bundle has content-hashed names and is cached for a year; the page is not', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.headers()['cache-control']).toContain('no-store');
  const html = await response!.text();
  const names = [...new Set(html.match(/\/pkg\/app\.[A-Za-z0-9_-]+\.(?:css|js|wasm)/g) ?? [])];
  for (const ext of ['css', 'js', 'wasm']) {
    expect(names.some((n) => n.endsWith(`.${ext}`)), `a hashed .${ext} in ${names}`).toBe(true);
  }
  for (const path of names) {
    const res = await page.request.get(path);
    expect(res.status(), path).toBe(200);
    expect(res.headers()['cache-control'], path).toBe('public, max-age=31536000, immutable');
  }
});
