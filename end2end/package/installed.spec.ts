import { test, expect } from '@playwright/test';
import { editor, failOnPageErrors, openHydrated, runRows, signIn } from '../tests/helpers';

failOnPageErrors();

// scripts/package-test made the admin (through the setup code) and `package-smoke`, a script
// with a dependency, and ran it once in the sandbox of the installed server.
test('the installed server shows the script in Monaco and its run', async ({ page }) => {
  await signIn(page);
  const listed = await page.request.get('/api/scripts?q=package-smoke');
  const [script] = await listed.json();
  expect(script?.name).toBe('package-smoke');
  await openHydrated(page, `/scripts/${script.id}`);
  await expect(editor(page)).toBeVisible();
  await expect(editor(page)).toContainText('import six');
  await openHydrated(page, '/executions');
  await expect(runRows(page).filter({ hasText: 'package-smoke' }).first()).toContainText(/succeeded/i);
});
