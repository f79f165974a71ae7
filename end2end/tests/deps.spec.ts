import { test, expect } from '@playwright/test';
import { createScript, openHydrated, signIn } from './helpers';

test('take requirements from the PEP 723 header, add one, install with live progress', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page);
  const content = '# /// script\n# dependencies = ["six==1.17.0"]\n# ///\nimport six\nprint(six.__version__)\n';
  const id = await createScript(page, `Deps ${Date.now()}`, content);

  await openHydrated(page, `/scripts/${id}`);
  const deps = page.getByRole('region', { name: 'Dependencies' });
  await expect(deps.getByText('● live')).toBeVisible();

  // The header's requirement is offered, then taken.
  await expect(deps.getByText('The script\'s header declares six==1.17.0')).toBeVisible();
  await deps.getByRole('button', { name: 'Add from header' }).click();
  const sixRow = deps.getByRole('row', { name: /six/ });
  await expect(sixRow).toContainText('not installed');

  // Typed requirements are checked by the server as you type.
  await deps.getByLabel('Package name').fill('bad name!');
  await expect(deps.getByText('is not a package name')).toBeVisible();
  await deps.getByLabel('Package name').fill('IDNA');
  await deps.getByLabel('Version specifier').fill('>=3');
  await expect(deps.getByText('✓ idna>=3')).toBeVisible();
  await deps.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(deps.getByRole('row', { name: /idna/ })).toContainText('not installed');

  // Install: uv's lines stream in, then the versions show.
  await deps.getByRole('button', { name: 'Install' }).click();
  // uv's output has no role of its own: found by its class.
  await expect(deps.locator('.progress-log')).toContainText(/six/, { timeout: 90_000 });
  await expect(deps.getByText(/✓ Installed \d+ packages/)).toBeVisible({ timeout: 90_000 });
  await expect(sixRow).toContainText('1.17.0');
  await expect(sixRow).toContainText('installed');
  await page.screenshot({ path: 'end2end/screenshots/script-dependencies.png', fullPage: true });

  // A package that does not exist: uv's reason, and the rest stays installed.
  await deps.getByLabel('Package name').fill('pytask-no-such-package-xyz');
  await deps.getByRole('button', { name: 'Add', exact: true }).click();
  await deps.getByRole('button', { name: 'Install' }).click();
  const failed = deps.getByRole('alert').filter({ hasText: 'The install failed; the previous environment is unchanged.' });
  await expect(failed).toBeVisible({ timeout: 90_000 });
  await expect(failed).toContainText('pytask-no-such-package-xyz');
  await expect(sixRow).toContainText('1.17.0');
  await deps.getByRole('button', { name: 'Remove pytask-no-such-package-xyz' }).click();
  await expect(deps.getByRole('row', { name: /pytask-no-such-package-xyz/ })).toHaveCount(0);
});
