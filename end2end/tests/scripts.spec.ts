import { test, expect, Page } from '@playwright/test';
import { createScript, editor, hydrated, openHydrated, signIn } from './helpers';

/** The editor's visible text (Monaco renders spaces as no-break spaces; its lines have no role). */
async function editorText(page: Page) {
  return (await editor(page).locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
}

/** Clears the editor and types `text` key by key, as a person would. */
async function typeCode(page: Page, text: string) {
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
  await page.keyboard.type(text);
}

async function scriptJson(page: Page) {
  const id = new URL(page.url()).pathname.split('/').pop();
  const response = await page.request.get(`/api/scripts/${id}`);
  expect(response.ok()).toBeTruthy();
  return response.json();
}

test('write a script in Monaco with tags, check, format and save it', async ({ page }) => {
  await signIn(page);
  await openHydrated(page, '/');
  await page.getByRole('link', { name: /New script|Create your first script/ }).first().click();
  await expect(page.getByRole('heading', { name: 'New script' })).toBeVisible();
  await hydrated(page);
  await expect(editor(page)).toBeVisible();

  await page.getByLabel('Name').fill('Nightly report');
  await page.getByLabel('Description').fill('Mails the numbers every night');
  const tags = page.getByRole('combobox', { name: 'Add a tag' });
  await tags.fill('reports');
  await tags.press('Enter');
  await tags.pressSequentially('nightly,');
  await tags.fill('Not a tag!');
  await tags.press('Enter');
  await expect(page.getByText('is not a tag')).toBeVisible();
  await tags.fill('');
  await tags.press('Backspace'); // removes "nightly"
  await tags.pressSequentially('nightly');
  await tags.press('Enter');
  await expect(page.getByRole('list', { name: 'Tags' }).getByRole('listitem')).toHaveText([/reports/, /nightly/]);

  // Typed into Monaco; completion offers Python's builtins.
  await typeCode(page, 'pri');
  await expect(page.getByRole('listbox', { name: 'Suggest' }).getByRole('option', { name: /^print,/ })).toBeVisible();
  await page.keyboard.press('Escape');
  await typeCode(page, 'total = 40 + 2\nprint("numbers", total)\n');
  const noErrors = page.getByText('✓ No syntax errors', { exact: true });
  await expect(noErrors).toBeVisible();

  // A syntax error is marked in the editor and said in words.
  await page.keyboard.type('print(1 +');
  // An error and a warning differ only in colour, hence the class; so does Monaco's underline.
  await expect(page.getByRole('status').filter({ hasText: 'Line 3' })).toHaveClass(/\berror\b/);
  await expect(editor(page).locator('.squiggly-error')).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/script-syntax-error.png', fullPage: true });
  await page.keyboard.press('ControlOrMeta+z');
  await page.keyboard.press('ControlOrMeta+z');
  await typeCode(page, 'total = 40 + 2\nprint("numbers", total)\n');
  await expect(noErrors).toBeVisible();

  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/scripts\/\d+$/);
  await expect(page.getByRole('heading', { name: 'Nightly report' })).toBeVisible();
  await hydrated(page);
  let stored = await scriptJson(page);
  expect(stored.content).toBe('total = 40 + 2\nprint("numbers", total)\n');
  expect(stored.tags).toEqual(['nightly', 'reports']);
  await expect(page.getByText('No runs yet')).toBeVisible();

  // Format with ruff, then Ctrl+S from inside the editor saves in place.
  await expect(editor(page)).toBeVisible();
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText('x=[1,2 ,3]\ndef f( a ):\n  return a\n');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: 'Format' }).click();
  await expect.poll(() => editorText(page)).toContain('x = [1, 2, 3]');
  expect(await editorText(page)).toContain('def f(a):\n    return a');
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+s');
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();
  stored = await scriptJson(page);
  expect(stored.content).toBe('x = [1, 2, 3]\n\n\ndef f(a):\n    return a\n');
  await page.screenshot({ path: 'end2end/screenshots/script-edit-light.png', fullPage: true });

  // The editor follows the app's theme.
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await expect(editor(page)).toHaveClass(/vs-dark/);
  await page.screenshot({ path: 'end2end/screenshots/script-edit-dark.png', fullPage: true });
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await expect(editor(page)).not.toHaveClass(/vs-dark/);

  // A shared link opens the same script, editor and all.
  await openHydrated(page, new URL(page.url()).pathname);
  await expect.poll(() => editorText(page)).toContain('x = [1, 2, 3]');
});

test('suggest tags, filter the list, toggle, and delete with confirmation', async ({ page }) => {
  await signIn(page);
  // A script carrying tags to suggest (the first test's may be gone if it ran alone).
  await createScript(page, 'Tagged', undefined, { tags: ['reports', 'nightly'] });

  await openHydrated(page, '/scripts/new');
  await page.getByLabel('Name').fill('Nightly report');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByText('a script named `Nightly report` exists already').or(page.getByRole('heading', { name: 'Nightly report' }))).toBeVisible();
  await openHydrated(page, '/scripts/new');
  await page.getByLabel('Name').fill('Backup');
  const tags = page.getByRole('combobox', { name: 'Add a tag' });
  await tags.pressSequentially('rep');
  const suggestion = page.getByRole('option', { name: /reports/ });
  await expect(suggestion).toBeVisible();
  await tags.press('ArrowDown');
  await expect(suggestion).toHaveAttribute('aria-selected', 'true');
  await tags.press('Enter');
  await tags.pressSequentially('ops');
  await tags.press('Enter');
  await expect(page.getByRole('list', { name: 'Tags' }).getByRole('listitem')).toHaveText([/reports/, /ops/]);
  await page.getByRole('button', { name: 'Remove tag reports' }).click();
  await expect(page.getByRole('list', { name: 'Tags' }).getByRole('listitem')).toHaveText([/ops/]);
  await expect(editor(page)).toBeVisible();
  await typeCode(page, 'print("backup done")\n');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { name: 'Backup' })).toBeVisible();
  await hydrated(page);
  await page.getByRole('link', { name: '← Scripts' }).click();
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'Backup' })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/dashboard-light.png', fullPage: true });
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await page.screenshot({ path: 'end2end/screenshots/dashboard-dark.png', fullPage: true });
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();

  // Search and tag filters live in the URL.
  await page.getByRole('searchbox', { name: 'Search scripts by name' }).fill('night');
  await expect(page).toHaveURL(/\?q=night$/);
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
  await page.getByRole('searchbox', { name: 'Search scripts by name' }).fill('');
  await page.getByRole('button', { name: 'ops' }).click();
  await expect(page).toHaveURL(/\?tag=ops$/);
  await expect(page.getByRole('link', { name: 'Nightly report' })).toHaveCount(0);
  await page.goto('/?tag=reports');
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'Tagged' })).toBeVisible();
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

  // Delete asks first, in the page; Cancel keeps the script.
  await page.getByRole('row', { name: /Backup/ }).getByRole('button', { name: 'Delete' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Delete “Backup”?' });
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.screenshot({ path: 'end2end/screenshots/script-delete-confirm.png', fullPage: true });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Backup' })).toBeVisible();
  await page.getByRole('row', { name: /Backup/ }).getByRole('button', { name: 'Delete' }).click();
  await dialog.getByRole('button', { name: 'Delete script' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Backup' })).toHaveCount(0);
});

test('a long list pages by 50, and the page lives in the URL', async ({ page }) => {
  await signIn(page);
  for (let n = 0; n < 52; n++) {
    await createScript(page, `bulk ${String(n).padStart(2, '0')}`);
  }
  await page.goto('/?q=bulk');
  await hydrated(page);
  await expect(page.getByRole('link', { name: 'bulk 49' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'bulk 50' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Next →' }).click();
  await expect(page).toHaveURL(/\?q=bulk&page=2$/);
  await expect(page.getByRole('link', { name: 'bulk 51' })).toBeVisible();
  await expect(page.getByText('Scripts 51–52 · page 2')).toBeVisible();
  await page.getByRole('link', { name: '← Previous' }).click();
  await expect(page.getByRole('link', { name: 'bulk 00' })).toBeVisible();
});
