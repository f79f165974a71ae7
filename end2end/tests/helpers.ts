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

/** Monaco, once it has replaced the server-rendered text area. Found by classes: `ready` is the
 * app's only sign that Monaco is up, and Monaco names its text box "Editor content" whatever the
 * editor's label. */
export function editor(page: Page) {
  return page.locator('.code-editor.ready .monaco-editor');
}

/** The runs of a run table, without its header row. */
export function runRows(page: Page) {
  return page.getByRole('table').getByRole('row').filter({ has: page.getByRole('cell') });
}

// Setup through the API, for what a test needs as context and does not test: the UI that
// makes each of these has tests of its own.

/** A script made through the API (the editor has its own tests); returns its id. */
export async function createScript(
  page: Page, name: string, content = 'print("tick")\n', more: { tags?: string[]; network?: boolean } = {},
): Promise<number> {
  const created = await page.request.post('/api/scripts', { data: { name, content, ...more } });
  expect(created.status()).toBe(201);
  return (await created.json()).id;
}

export async function createUser(page: Page, user: { username: string; password: string; role: 'admin' | 'editor' | 'viewer' }) {
  expect((await page.request.post('/api/users', { data: user })).status()).toBe(201);
}

export async function createSchedule(page: Page, scriptId: number, schedule: { cron_expression: string; timezone?: string }) {
  expect((await page.request.post(`/api/scripts/${scriptId}/schedules`, { data: schedule })).status()).toBe(201);
}

/** Queues a run of the script as a manual trigger does; returns the run's id. */
export async function startRun(page: Page, scriptId: number): Promise<number> {
  const started = await page.request.post(`/api/scripts/${scriptId}/execute`, { data: {} });
  expect(started.status()).toBe(201);
  return (await started.json()).id;
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
