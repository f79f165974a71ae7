import { test, expect, Page } from '@playwright/test';
import { createScript, createUser, failOnPageErrors, openHydrated, runRows, signIn, signOut } from './helpers';

// Run inputs (issue #25) on a script's schedules page: webhooks, whose URL is shown once and
// starts a run with no session, and schedules that store the inputs their runs get.

failOnPageErrors();

const ARGPARSE = `import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--customer", type=int, required=True, help="Whose invoices to send")
parser.add_argument("--mode", choices=["fast", "slow"], default="fast")
parser.add_argument("--api-token", default="", help="For the mail service")
args = parser.parse_args()
print(f"customer={args.customer} mode={args.mode}")
`;

function hooksPanel(page: Page) {
  return page.getByRole('region', { name: 'Webhooks' });
}

function scheduleRow(page: Page, expression: string) {
  return page.getByRole('row').filter({ has: page.getByText(expression, { exact: true }) });
}

test('a webhook made on the page starts runs with inputs and no session, and answers 404 once revoked', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await createUser(page, { username: 'hook-viewer', password: 'hook-viewer-password', role: 'viewer' });
  const name = `Invoices ${Date.now()}`;
  const id = await createScript(page, name, ARGPARSE);

  await openHydrated(page, `/scripts/${id}/schedules`);
  const panel = hooksPanel(page);
  await expect(panel.getByText('No webhooks yet.')).toBeVisible();
  await panel.getByLabel('Webhook name').fill('billing-system');
  await panel.getByRole('button', { name: 'Create webhook' }).click();

  // The URL, whole, this once: a path made absolute with this page's address.
  const created = panel.getByRole('status').filter({ hasText: 'Webhook “billing-system” created' });
  await expect(created).toContainText('Copy its URL now: it is not shown again.');
  const url = await created.getByLabel('Webhook URL', { exact: true }).inputValue();
  const origin = new URL(page.url()).origin;
  expect(url).toMatch(new RegExp(`^${origin}/api/hooks/[^/]{16,}$`));
  // The example request is built from the script's inputs: defaults, else a value of the kind.
  await expect(created.getByLabel('Example request', { exact: true })).toHaveText(
    `curl -X POST -H 'Content-Type: application/json' -d '{"api_token":"","customer":1,"mode":"fast"}' '${url}'`,
  );
  await page.screenshot({ path: 'end2end/screenshots/hooks-created.png', fullPage: true });

  const row = panel.getByRole('row').filter({ hasText: 'billing-system' });
  await expect(row).toContainText('admin');
  await expect(row).toContainText('never');
  const token = url.split('/').pop()!;
  await expect(row).toContainText(`${token.slice(0, 4)}`);

  // No cookie, no CSRF token: the URL is the credential. Inputs are checked as the form checks them.
  const refused = await request.post(url, { data: { customer: 'many' } });
  expect(refused.status()).toBe(422);
  expect((await refused.json()).error.message).toContain('input `customer`');
  const fired = await request.post(url, { data: { customer: 42, mode: 'slow' } });
  expect(fired.status()).toBe(202);
  const { execution_id: runId } = await fired.json();

  // The run is there, started by the webhook, with its inputs.
  await openHydrated(page, `/executions?script_id=${id}`);
  await expect(runRows(page).first()).toContainText('webhook');
  await openHydrated(page, `/executions/${runId}`);
  await expect(page.getByRole('log', { name: 'Output' }).getByText('customer=42 mode=slow')).toBeVisible({ timeout: 60_000 });

  // Once shown, never again: the list has the prefix and when it was last used.
  await openHydrated(page, `/scripts/${id}/schedules`);
  await expect(panel.getByLabel('Webhook URL', { exact: true })).toHaveCount(0);
  expect(await page.content()).not.toContain(token);
  await expect(row).not.toContainText('never');

  // A viewer sees the hooks, not the controls.
  await signOut(page);
  await signIn(page, 'hook-viewer', 'hook-viewer-password');
  await openHydrated(page, `/scripts/${id}/schedules`);
  await expect(row).toBeVisible();
  await expect(panel.getByLabel('Webhook name')).toHaveCount(0);
  await expect(panel.getByRole('button', { name: /Revoke/ })).toHaveCount(0);
  await signOut(page);
  await signIn(page);

  // Revoking asks first; then the URL is dead.
  await openHydrated(page, `/scripts/${id}/schedules`);
  await row.getByRole('button', { name: 'Revoke webhook billing-system' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Revoke the webhook “billing-system”?' });
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.screenshot({ path: 'end2end/screenshots/hooks-revoke-confirm.png', fullPage: true });
  await dialog.getByRole('button', { name: 'Revoke webhook' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(panel.getByText('No webhooks yet.')).toBeVisible();
  expect((await request.post(url, { data: { customer: 42 } })).status()).toBe(404);
});

test('a schedule stores the inputs typed in its form, and says when an edit of the script breaks them', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const id = await createScript(page, `Nightly invoices ${Date.now()}`, ARGPARSE);
  await openHydrated(page, `/scripts/${id}/schedules`);

  // The form asks for the inputs, and checks them before sending.
  const inputs = page.getByRole('group', { name: 'Inputs each run gets' });
  await expect(inputs).toBeVisible();
  await page.getByRole('button', { name: 'Daily at 09:00' }).click();
  await page.getByRole('button', { name: 'Create schedule' }).click();
  await expect(inputs.getByText('customer is required')).toBeVisible();
  await inputs.getByLabel(/^customer/).fill('42');
  await inputs.getByLabel(/^api_token/).fill('tok-0123456789');
  await page.screenshot({ path: 'end2end/screenshots/schedules-inputs-form.png', fullPage: true });
  await page.getByRole('button', { name: 'Create schedule' }).click();

  // The row shows them, the secret as ***, and the server stored them so.
  const row = scheduleRow(page, '0 9 * * *');
  const shown = row.getByRole('list', { name: 'Inputs' });
  await expect(shown).toContainText('customer=42');
  await expect(shown).toContainText('api_token=***');
  expect(await page.content()).not.toContain('tok-0123456789');
  const [stored] = await (await page.request.get(`/api/scripts/${id}/schedules`)).json();
  expect(stored.inputs).toEqual({ customer: 42, mode: 'fast', api_token: '***' });
  expect(stored.inputs_problem).toBeNull();

  // The secret, never shown back, is kept when left empty in an edit.
  await row.getByRole('button', { name: 'Edit schedule 0 9 * * *' }).click();
  const editor = page.getByRole('group', { name: 'Edit schedule 0 9 * * *' });
  await expect(editor.getByLabel(/^customer/)).toHaveValue('42');
  await expect(editor.getByLabel(/^api_token/)).toHaveValue('');
  await expect(editor.getByText('leave it empty to keep the stored one')).toBeVisible();
  await editor.getByLabel(/^customer/).fill('7');
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await expect(editor).toHaveCount(0);
  await expect(shown).toContainText('customer=7');
  await expect(shown).toContainText('api_token=***');

  // The script stops taking `--customer`: the schedule's row says its runs will fail, and why.
  const script = await (await page.request.get(`/api/scripts/${id}`)).json();
  const edited = await page.request.put(`/api/scripts/${id}`, {
    data: { updated_at: script.updated_at, content: ARGPARSE.replaceAll('customer', 'client') },
  });
  expect(edited.status()).toBe(200);
  await openHydrated(page, `/scripts/${id}/schedules`);
  await expect(page.getByText("This schedule's inputs no longer fit the script:")).toBeVisible();
  await expect(page.getByText('its runs will fail until you edit it')).toBeVisible();
  await expect(page.getByText(/input `(customer|client)`/)).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/schedules-inputs-problem.png', fullPage: true });

  // The dashboard warns of it too, with a link to the schedules to mend it.
  await openHydrated(page, '/');
  const warning = page.getByRole('alert', { name: 'Schedules whose inputs no longer fit' });
  await expect(warning).toContainText(/schedules? will fail/);
  const link = warning.getByRole('link', { name: script.name });
  await expect(link).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/dashboard-unfit-schedules.png', fullPage: true });
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/schedules$`));
});
