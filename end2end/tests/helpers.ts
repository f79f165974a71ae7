import { test, expect, Page } from '@playwright/test';

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

/** A script made through the API (the editor has its own tests); returns its id. */
export async function createScript(page: Page, name: string, content = 'print("tick")\n'): Promise<number> {
  const created = await page.request.post('/api/scripts', { data: { name, content } });
  expect(created.status()).toBe(201);
  return (await created.json()).id;
}

/** Called at a spec's top level: a panic in the wasm (or an error thrown by the page) fails each
 * test of the file even if the page looks right. */
export function failOnPageErrors() {
  let pageErrors: string[] = [];
  test.beforeEach(({ page }) => {
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && message.text().includes('panicked')) pageErrors.push(message.text());
    });
  });
  test.afterEach(() => {
    expect(pageErrors).toEqual([]);
  });
}
