import { test, expect } from '@playwright/test';

test('the home page is server-rendered and then hydrated', async ({ page }) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  const html = await response!.text();
  expect(html).toContain('data-testid="hydration-counter"');

  // The server-rendered button does nothing; only the hydrated app counts clicks.
  const count = page.getByTestId('hydration-count');
  await expect(count).toHaveText('0');
  await expect(async () => {
    await page.getByTestId('hydration-counter').click();
    await expect(count).not.toHaveText('0', { timeout: 500 });
  }).toPass({ timeout: 30_000 });
  const clicks = Number(await count.textContent());
  await page.getByTestId('hydration-counter').click();
  await expect(count).toHaveText(String(clicks + 1));
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
