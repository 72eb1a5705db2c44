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

test('the stylesheet and the wasm bundle are served', async ({ page }) => {
  for (const path of ['/pkg/app.css', '/pkg/app.js', '/pkg/app.wasm']) {
    const res = await page.request.get(path);
    expect(res.status(), path).toBe(200);
  }
});
