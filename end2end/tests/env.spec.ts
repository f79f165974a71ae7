import { test, expect, Locator, Page } from '@playwright/test';
import { createScript, createUser, editor, failOnPageErrors, hydrated, openHydrated, signIn, signOut } from './helpers';

// Variables and secrets (issue #24): set on a script's page or on /settings/env, given to runs as
// environment variables; a secret's value is never shown again and is *** in the run's output.

failOnPageErrors();

const SECRET = 's3cr3t-value-xyz';
const REPLACED = 'n3w-s3cr3t-value';

function scriptPanel(page: Page) {
  return page.getByRole('region', { name: 'Variables & secrets' });
}

function addForm(scope: Locator) {
  return scope.getByRole('form', { name: 'Add a variable or secret' });
}

/** The table row of the entry `name` (its first cell starts with the name; a badge may follow). */
function entryRow(scope: Locator, name: string) {
  return scope.getByRole('row').filter({ has: scope.page().getByRole('cell').filter({ hasText: new RegExp(`^${name}(?![A-Z0-9_])`) }) });
}

function output(page: Page) {
  return page.getByRole('log', { name: 'Output' });
}

/** Adds an entry with the panel's form, as a person would, and waits for its row. */
async function addEntry(scope: Locator, name: string, value: string, options: { secret?: boolean } = {}) {
  const form = addForm(scope);
  await form.getByLabel(/^Name/).fill(name);
  if (options.secret) await form.getByLabel('Secret').check();
  await form.getByLabel(/^Value/).fill(value);
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(form.getByLabel(/^Name/)).toHaveValue('');
  await expect(entryRow(scope, name).first()).toBeVisible();
}

test('an editor gives a script a variable and a secret; the run gets both, the secret masked; a viewer sees names only', async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page);
  await createUser(page, { username: 'env-editor', password: 'env-editor-password', role: 'editor' });
  await createUser(page, { username: 'env-viewer', password: 'env-viewer-password', role: 'viewer' });
  const name = `Greeter ${Date.now()}`;
  const id = await createScript(page, name, 'print("not yet")\n');
  await signOut(page);

  await signIn(page, 'env-editor', 'env-editor-password');
  await openHydrated(page, `/scripts/${id}`);
  const panel = scriptPanel(page);
  await expect(panel.getByText('No variables or secrets yet.')).toBeVisible();
  const form = addForm(panel);

  // Names and values are checked in the page, by the server's rules, before anything is sent.
  await form.getByLabel(/^Name/).fill('PATH');
  await expect(form.getByText('PATH is set by the runtime for every run')).toBeVisible();
  await form.getByLabel(/^Name/).fill('2FAST');
  await expect(form.getByText('not starting with a digit')).toBeVisible();

  await addEntry(panel, 'GREETING', 'hello-from-var');
  await expect(entryRow(panel, 'GREETING')).toContainText('hello-from-var');
  await expect(entryRow(panel, 'GREETING')).toContainText('env-editor');

  // A secret is typed blind, and must be long enough to be masked safely.
  await form.getByLabel(/^Name/).fill('API_TOKEN');
  await form.getByLabel('Secret').check();
  await expect(form.getByLabel(/^Value/)).toHaveAttribute('type', 'password');
  await form.getByLabel(/^Value/).fill('abc');
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(form.getByText('a secret must be at least 4 characters')).toBeVisible();
  await panel.screenshot({ path: 'end2end/screenshots/env-script-invalid.png' });
  await form.getByLabel(/^Value/).fill(SECRET);
  await form.getByRole('button', { name: 'Add', exact: true }).click();
  const tokenRow = entryRow(panel, 'API_TOKEN');
  await expect(tokenRow).toContainText('secret');
  await expect(tokenRow).toContainText('set');
  await expect(form.getByLabel('Secret')).not.toBeChecked();
  expect(await page.content()).not.toContain(SECRET);
  await panel.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'end2end/screenshots/env-script-panel.png', fullPage: true });
  await panel.screenshot({ path: 'end2end/screenshots/env-script-panel-only.png' });

  // Code that prints both, saved and run from the page.
  await expect(editor(page)).toBeVisible();
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText('import os\nprint(os.environ["GREETING"])\nprint(os.environ["API_TOKEN"])\n');
  await page.getByRole('button', { name: '▶ Save & run' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await hydrated(page);
  await expect(output(page).getByText('hello-from-var', { exact: true })).toBeVisible({ timeout: 90_000 });
  await expect(output(page).getByText('***', { exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Run' }).getByText('succeeded')).toBeVisible();
  await expect(page.getByText('1 secret value masked in this output')).toBeVisible();
  expect(await page.content()).not.toContain(SECRET);
  const download = page.getByRole('link', { name: 'Download log' });
  const log = await (await page.request.get((await download.getAttribute('href'))!)).text();
  expect(log).toContain('hello-from-var');
  expect(log).not.toContain(SECRET);
  await page.screenshot({ path: 'end2end/screenshots/env-run-masked.png', fullPage: true });

  // Replacing a secret: its field starts empty, never with the value.
  await openHydrated(page, `/scripts/${id}`);
  await entryRow(panel, 'API_TOKEN').getByRole('button', { name: 'Replace API_TOKEN' }).click();
  const replace = panel.getByRole('group', { name: 'Replace API_TOKEN' });
  const newValue = replace.getByLabel('New value of API_TOKEN');
  await expect(newValue).toBeFocused();
  await expect(newValue).toHaveValue('');
  await expect(newValue).toHaveAttribute('type', 'password');
  await newValue.fill(REPLACED);
  await panel.screenshot({ path: 'end2end/screenshots/env-script-replace.png' });
  await replace.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(replace).toHaveCount(0);
  await expect(entryRow(panel, 'API_TOKEN')).toContainText('secret');

  // Deleting asks first.
  await addEntry(panel, 'OLD_FLAG', '1');
  await entryRow(panel, 'OLD_FLAG').getByRole('button', { name: 'Delete OLD_FLAG' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Delete the variable OLD_FLAG?' });
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(dialog).toHaveCount(0);
  await expect(entryRow(panel, 'OLD_FLAG')).toHaveCount(0);
  await signOut(page);

  // A viewer sees the names and the variable's value, no controls, and no secret anywhere.
  await signIn(page, 'env-viewer', 'env-viewer-password');
  await openHydrated(page, `/scripts/${id}`);
  await expect(entryRow(panel, 'GREETING')).toContainText('hello-from-var');
  await expect(entryRow(panel, 'API_TOKEN')).toContainText('secret');
  await expect(addForm(panel)).toHaveCount(0);
  await expect(panel.getByRole('button')).toHaveCount(0);
  await expect(panel.getByRole('textbox')).toHaveCount(0);
  const html = await page.content();
  expect(html).not.toContain(SECRET);
  expect(html).not.toContain(REPLACED);
  const served = await (await page.request.get(`/scripts/${id}`)).text();
  expect(served).toContain('API_TOKEN');
  expect(served).not.toContain(SECRET);
  expect(served).not.toContain(REPLACED);
});

test('a global variable set on /settings/env reaches a run, a script\'s own wins, and non-admins only read it', async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page);
  await createUser(page, { username: 'env-reader', password: 'env-reader-password', role: 'editor' });
  const id = await createScript(page, `Deployer ${Date.now()}`, 'import os\nprint("region:", os.environ.get("DEPLOY_REGION", "unset"))\n');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Variables' }).click();
  await expect(page.getByRole('heading', { name: 'Variables & secrets', level: 1 })).toBeVisible();
  await hydrated(page);
  const globals = page.getByRole('region', { name: 'Global variables' });
  await addEntry(globals, 'DEPLOY_REGION', 'eu-west-1');
  await addEntry(globals, 'SHARED_API_KEY', 'global-key-1234', { secret: true });
  await expect(entryRow(globals, 'DEPLOY_REGION')).toContainText('eu-west-1');
  await page.screenshot({ path: 'end2end/screenshots/env-global.png', fullPage: true });

  // The script's page lists the globals it gets; its run has them.
  await openHydrated(page, `/scripts/${id}`);
  const panel = scriptPanel(page);
  const inherited = panel.getByRole('rowgroup').filter({ hasText: 'Global, for every script' });
  await expect(entryRow(inherited, 'DEPLOY_REGION')).toContainText('eu-west-1');
  await expect(panel.getByText('None: its runs get the globals below.')).toBeVisible();
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await expect(output(page).getByText('region: eu-west-1', { exact: true })).toBeVisible({ timeout: 90_000 });

  // The script's own entry of the same name wins.
  await openHydrated(page, `/scripts/${id}`);
  await addForm(panel).getByLabel(/^Name/).fill('DEPLOY_REGION');
  await expect(addForm(panel).getByText('Overrides the global DEPLOY_REGION in this script\'s runs')).toBeVisible();
  await addEntry(panel, 'DEPLOY_REGION', 'us-east-2');
  await expect(entryRow(inherited, 'DEPLOY_REGION')).toContainText('overridden by this script\'s own');
  await panel.scrollIntoViewIfNeeded();
  await panel.screenshot({ path: 'end2end/screenshots/env-script-override.png' });
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await expect(output(page).getByText('region: us-east-2', { exact: true })).toBeVisible({ timeout: 90_000 });
  await signOut(page);

  // An editor reads the globals (a secret's name only) and changes none.
  await signIn(page, 'env-reader', 'env-reader-password');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Variables' }).click();
  await expect(page.getByText('Only admins change the global variables.')).toBeVisible();
  await expect(entryRow(globals, 'DEPLOY_REGION')).toContainText('eu-west-1');
  await expect(entryRow(globals, 'SHARED_API_KEY')).toContainText('secret');
  await expect(addForm(globals)).toHaveCount(0);
  await expect(globals.getByRole('button')).toHaveCount(0);
  expect(await page.content()).not.toContain('global-key-1234');
  await page.screenshot({ path: 'end2end/screenshots/env-global-read-only.png', fullPage: true });
});
