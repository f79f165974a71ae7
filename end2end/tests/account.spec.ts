import { test, expect, Page } from '@playwright/test';
import { spawn, ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser, hydrated, openHydrated, signIn } from './helpers';

test('changing your password signs out your other browsers, and your tokens when asked', async ({ page, browser }) => {
  await signIn(page);
  await createUser(page, { username: 'petra', password: 'petra-password', role: 'editor' });
  // Petra on two machines.
  const laptop = await browser.newPage();
  const desktop = await (await browser.newContext()).newPage();
  for (const p of [laptop, desktop]) await signIn(p, 'petra', 'petra-password');
  const token = await (await laptop.request.post('/api/tokens', { data: { name: 'petra-ci' } })).json();

  await openHydrated(laptop, '/settings/tokens');
  await laptop.getByLabel('Current password').fill('not-my-password');
  await laptop.getByLabel('New password', { exact: true }).fill('petra-new-password');
  await laptop.getByLabel('Repeat the new password').fill('petra-new-password-typo');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.getByRole('alert').filter({ hasText: 'the two new passwords differ' })).toBeVisible();
  await laptop.getByLabel('Repeat the new password').fill('petra-new-password');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.getByRole('alert').filter({ hasText: 'the current password is wrong' })).toBeVisible();

  await laptop.getByLabel('Current password').fill('petra-password');
  await laptop.getByLabel('New password', { exact: true }).fill('petra-new-password');
  await laptop.getByLabel('Repeat the new password').fill('petra-new-password');
  await laptop.getByLabel('Also revoke all my API tokens').check();
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop.getByRole('status').filter({ hasText: 'Password changed' })).toContainText('API tokens revoked');
  await laptop.locator('.password-form').screenshot({ path: 'end2end/screenshots/password.png' });

  // This browser goes on; the other one is signed out; the token no longer works.
  await openHydrated(laptop, '/executions');
  await expect(laptop).toHaveURL(/\/executions$/);
  await desktop.goto('/executions');
  await expect(desktop).toHaveURL(/\/login\?next=/);
  const withToken = await page.request.get('/api/auth/me', { headers: { Authorization: `Bearer ${token.secret}` } });
  expect(withToken.status()).toBe(401);
  await laptop.close();
  await desktop.close();
});

/** A fresh server of its own (the suite's one has its admin), behind a "proxy" on loopback, so a
 * page can come from afar by saying so in `X-Forwarded-For`. Resolves with the setup code it logs. */
async function freshServer(port: number): Promise<{ server: ChildProcess; code: string }> {
  const bin = process.env.PYTASK_BIN ?? '../target/release/pytask';
  const data = mkdtempSync(join(tmpdir(), 'pytask-e2e-setup-'));
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', data, '--trusted-proxies', '127.0.0.1/32'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const code = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server logged no setup code')), 60_000);
    createInterface({ input: server.stdout! }).on('line', (line) => {
      const found = line.match(/setup code ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})/);
      if (found) { clearTimeout(timer); resolve(found[1]); }
    });
  });
  return { server, code };
}

async function fillAdmin(page: Page) {
  await page.getByLabel('User name').fill('owner');
  await page.getByLabel('Password', { exact: true }).fill('owner-password');
  await page.getByLabel('Repeat the password').fill('owner-password');
}

test('from afar, the first admin needs the setup code from the server log', async ({ browser }) => {
  const port = Number(process.env.PYTASK_E2E_PORT ?? 3111) + 7;
  const { server, code } = await freshServer(port);
  try {
    const far = await browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.50' } });
    const page = await far.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page).toHaveURL(/\/setup$/);
    await hydrated(page);
    const codeField = page.getByLabel('Setup code');
    await expect(codeField).toBeVisible();
    await page.screenshot({ path: 'end2end/screenshots/setup-code.png', fullPage: true });

    await fillAdmin(page);
    await codeField.fill('AAAA-BBBB-CCCC');
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'the setup code is wrong' })).toBeVisible();

    await codeField.fill(code.toLowerCase());
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Scripts', exact: true })).toBeVisible();
    await far.close();

    // A browser on the server's own machine is asked for no code (here: setup is over anyway).
    const near = await browser.newPage();
    await near.goto(`http://127.0.0.1:${port}/setup`);
    await expect(near).toHaveURL(/\/login$/);
    await near.close();
  } finally {
    server.kill('SIGTERM');
  }
});
