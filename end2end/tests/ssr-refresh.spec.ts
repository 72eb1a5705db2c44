import { test, expect } from '@playwright/test';
import { PASSWORD, refreshToken, registerSignedOut, signUp, waitForAccessExpiry, waitForHydration } from './helpers';

test('a returning user past access expiry sees their notes on reload, with a rotated refresh cookie', async ({ page, context }) => {
  const email = await signUp(page, 'reload');
  await page.goto('/notes');
  await waitForHydration(page);
  await page.getByTestId('note-title').fill('Pack the tent');
  await page.getByTestId('note-body').fill('and the stove');
  await page.getByTestId('note-submit').click();
  await expect(page.getByTestId('note-title-text')).toHaveText(['Pack the tent']);

  const before = await refreshToken(context);
  await waitForAccessExpiry(context);
  const response = await page.reload();
  expect(response?.status()).toBe(200);
  expect(page.url()).toMatch(/\/notes$/);
  await expect(page.getByTestId('note-title-text')).toHaveText(['Pack the tent']);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  const after = await refreshToken(context);
  expect(after).toBeTruthy();
  expect(after).not.toBe(before);
  const cookies = await context.cookies();
  for (const name of ['access_token', 'refresh_token']) {
    const c = cookies.find((c) => c.name === name);
    expect(c?.httpOnly, name).toBe(true);
    expect(c?.sameSite, name).toBe('Lax');
  }
  // Neither token is readable from page scripts.
  expect(await page.evaluate(() => document.cookie)).not.toContain('token');
});

test('without a session a protected page sends the user to sign in and back', async ({ page }) => {
  await page.goto('/sessions');
  await expect(page).toHaveURL(/\/login\?next=\/sessions$/);
  const email = await registerSignedOut(page, 'next');
  await page.goto('/login?next=%2Fsessions');
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('submit').click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByTestId('this-device')).toBeVisible();
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('the sign-in form works as a plain form post', async ({ page }) => {
    const email = await registerSignedOut(page, 'nojs');
    await page.goto('/login?next=%2Fnotes');
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill('wrong password');
    await page.getByTestId('submit').click();
    await expect(page.getByTestId('form-error')).toContainText('incorrect');
    await page.getByTestId('email').fill(email);
    await page.getByTestId('password').fill(PASSWORD);
    await page.getByTestId('submit').click();
    await expect(page).toHaveURL(/\/notes$/);
    await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  });
});
