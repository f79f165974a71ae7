import { test, expect } from '@playwright/test';
import { openHydrated, signIn } from './helpers';

test.beforeEach(async ({ page }) => {
  await signIn(page);
});

test('the shell renders, hydrates and navigates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await openHydrated(page, '/');
  await expect(page.getByRole('heading', { name: 'Scripts', exact: true })).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Executions' }).click();
  await expect(page).toHaveURL(/\/executions$/);
  await expect(page.getByRole('heading', { name: 'Executions' })).toBeVisible();
  await expect(page).toHaveTitle('Executions · PyTask Manager');
  await page.screenshot({ path: 'end2end/screenshots/executions.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('the theme switch changes the page and is remembered', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' });
  await openHydrated(page, '/');
  const html = page.locator('html');
  await expect(html).not.toHaveAttribute('data-theme', /.*/);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const lightBackground = await background();
  await page.screenshot({ path: 'end2end/screenshots/scripts-light.png', fullPage: true });

  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await expect(html).toHaveAttribute('data-theme', 'dark');
  expect(await background()).not.toEqual(lightBackground);
  await page.screenshot({ path: 'end2end/screenshots/scripts-dark.png', fullPage: true });

  // The server renders the remembered theme on the next visit.
  await openHydrated(page, '/executions');
  await expect(html).toHaveAttribute('data-theme', 'dark');
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await expect(html).toHaveAttribute('data-theme', 'light');
  await page.reload();
  await expect(html).toHaveAttribute('data-theme', 'light');
});

test('an unknown address shows the not-found page with a way back', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/not-found.png', fullPage: true });
  await page.getByRole('link', { name: 'Back to scripts' }).click();
  await expect(page.getByRole('heading', { name: 'Scripts', exact: true })).toBeVisible();
});
