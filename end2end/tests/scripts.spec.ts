import { test, expect } from '@playwright/test';
import { hydrated, openHydrated, signIn } from './helpers';

test('create a script, find it by search and tag, toggle, edit and delete it', async ({ page }) => {
  await signIn(page);
  await openHydrated(page, '/');
  await page.getByRole('link', { name: /New script|Create your first script/ }).first().click();
  await expect(page.getByRole('heading', { name: 'New script' })).toBeVisible();
  await hydrated(page);
  await page.getByLabel('Name').fill('Nightly report');
  await page.getByLabel('Tags (comma-separated)').fill('reports, nightly');
  await page.getByLabel('Description').fill('Mails the numbers every night');
  await page.getByLabel('Code').fill('print("numbers")\n');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/scripts\/\d+$/);
  await expect(page.getByRole('heading', { name: 'Nightly report' })).toBeVisible();
  await hydrated(page);

  // Ctrl+S saves an edit in place.
  await page.getByLabel('Code').fill('print("more numbers")\n');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.keyboard.press('Control+s');
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/script-edit.png', fullPage: true });

  await page.getByRole('link', { name: '← Scripts' }).click();
  await expect(page.getByRole('link', { name: 'Nightly report' })).toBeVisible();
  await hydrated(page);
  await page.screenshot({ path: 'end2end/screenshots/dashboard.png', fullPage: true });

  // A name that is taken is refused next to the field.
  await page.goto('/scripts/new');
  await hydrated(page);
  await page.getByLabel('Name').fill('Nightly report');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('a script named `Nightly report` exists already')).toBeVisible();
  await page.getByLabel('Name').fill('Backup');
  await page.getByLabel('Tags (comma-separated)').fill('ops');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { name: 'Backup' })).toBeVisible();

  // Search and tag filters live in the URL.
  await openHydrated(page, '/');
  await page.getByRole('searchbox', { name: 'Search scripts by name' }).fill('night');
  await expect(page).toHaveURL(/\?q=night$/);
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
  await page.getByRole('searchbox', { name: 'Search scripts by name' }).fill('');
  await page.getByRole('button', { name: 'ops' }).click();
  await expect(page).toHaveURL(/\?tag=ops$/);
  await expect(page.getByRole('link', { name: 'Nightly report' })).toHaveCount(0);
  await page.goto('/?tag=reports');
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'Nightly report' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Remove tag filter reports' }).click();
  await expect(page.getByRole('link', { name: 'Backup' })).toBeVisible();

  // The active switch works in place and survives a reload.
  const toggle = page.getByRole('switch', { name: 'Backup is active' });
  await expect(toggle).toBeChecked();
  await toggle.click();
  await expect(toggle).not.toBeChecked();
  await page.reload();
  await expect(page.getByRole('switch', { name: 'Backup is active' })).not.toBeChecked();
  await hydrated(page);

  // Delete asks first.
  page.once('dialog', (dialog) => dialog.dismiss());
  await page.getByRole('row', { name: /Backup/ }).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('link', { name: 'Backup' })).toBeVisible();
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('row', { name: /Backup/ }).getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
});
