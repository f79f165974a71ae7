import { test, expect } from '@playwright/test';
import { ADMIN, PASSWORD, createScript, hydrated, openHydrated, signIn, signOut } from './helpers';

test('a stranger is sent to sign in, and back where they wanted after', async ({ page }) => {
  await signIn(page); // makes sure the first admin exists
  await signOut(page);
  await page.goto('/executions');
  await expect(page).toHaveURL(/\/login\?next=%2Fexecutions$/);
  await hydrated(page);
  await page.screenshot({ path: 'end2end/screenshots/login.png', fullPage: true });

  await page.getByLabel('User name').fill(ADMIN);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('wrong user name or password');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/executions$/);
  await expect(page.getByRole('link', { name: /admin/ })).toBeVisible();

  await signOut(page);
  await expect(page).toHaveURL(/\/login$/);
});

test('an admin adds a viewer, who sees no admin controls', async ({ page }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
  await hydrated(page);
  // The form has no name to scope it by; its fields are the page's only ones so named. `exact`
  // keeps its "Role" apart from each row's "Role of …".
  await page.getByLabel('User name').fill('vera');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('combobox', { name: 'Role', exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'a password has at least 8 characters' })).toBeVisible();
  await page.getByLabel('Password').fill('vera-password');
  await page.getByRole('button', { name: 'Add user' }).click();
  await expect(page.getByRole('cell', { name: 'vera' })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/users.png', fullPage: true });
  await createScript(page, 'Seen by viewers');
  await signOut(page);

  await signIn(page, 'vera', 'vera-password');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Scripts' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Seen by viewers' })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Run/ })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Edit' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'New script' })).toHaveCount(0);
  await expect(page.getByRole('switch', { name: 'Seen by viewers is active' })).toBeDisabled();
  await openHydrated(page, '/users');
  await expect(page.getByText('Only admins manage users')).toBeVisible();
  await signOut(page);

  // Deleting asks first; Escape keeps the user.
  await signIn(page);
  await openHydrated(page, '/users');
  const row = page.getByRole('row', { name: /vera/ });
  await row.getByRole('button', { name: 'Delete' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Delete vera?' });
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('cell', { name: 'vera' })).toBeVisible();
  await row.getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete user' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('cell', { name: 'vera' })).toHaveCount(0);
});

test('a user creates an API token, sees its secret once, and revokes it', async ({ page, request }) => {
  await signIn(page);
  await openHydrated(page, '/settings/tokens');
  await page.getByLabel('Token name').fill('e2e-ci');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByRole('status').filter({ hasText: 'Copy it now' }).getByRole('code');
  const secret = (await shown.textContent())!.trim();
  expect(secret).toMatch(/^pt_[0-9a-f]{64}$/);
  await expect(page.getByRole('cell', { name: 'e2e-ci', exact: true })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/tokens.png', fullPage: true });

  const me = await request.get('/api/auth/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(me.status()).toBe(200);
  expect((await me.json()).username).toBe(ADMIN);

  await page.reload();
  await hydrated(page);
  await expect(shown).toHaveCount(0);
  await page.getByRole('row', { name: /e2e-ci/ }).getByRole('button', { name: 'Revoke' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Revoke the token “e2e-ci”?' });
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await dialog.getByRole('button', { name: 'Revoke token' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('cell', { name: 'e2e-ci', exact: true })).toHaveCount(0);
  const after = await request.get('/api/auth/me', { headers: { Authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);
});
