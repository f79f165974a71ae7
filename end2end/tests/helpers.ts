import { expect, Page } from '@playwright/test';

export const ADMIN = 'admin';
export const PASSWORD = 'e2e-admin-password';

// The app marks <body data-hydrated> from an effect, which runs only once the wasm has hydrated.
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated]')).toBeAttached();
}

export async function openHydrated(page: Page, path: string) {
  await page.goto(path);
  await hydrated(page);
}

/** Signs in as `username`; on a fresh server this first creates the admin through /setup. */
export async function signIn(page: Page, username = ADMIN, password = PASSWORD) {
  await page.goto('/login');
  await hydrated(page);
  if (new URL(page.url()).pathname === '/setup') {
    await page.getByLabel('User name').fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Repeat the password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Scripts', exact: true })).toBeVisible();
    if (username === ADMIN) return;
    await signOut(page);
  }
  if (new URL(page.url()).pathname !== '/login') await signOut(page);
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  await hydrated(page);
}

export async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await hydrated(page);
}
