import { test, expect, Page } from '@playwright/test';
import { createScript, editor, failOnPageErrors, hydrated, openHydrated, signIn } from './helpers';

// Run inputs (issue #25): the form read from a script's own code, shown live in the editor,
// filled on the execute page, remembered by the run and offered again; a main()'s result.

failOnPageErrors();

const FIRST = `import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--customer", type=int, required=True, help="Whose invoices to send")
args = parser.parse_args()
print(f"customer={args.customer}")
`;

const FULL = `import argparse

MODES = ["fast", "slow"]
parser = argparse.ArgumentParser()
parser.add_argument("--customer", type=int, required=True, help="Whose invoices to send")
parser.add_argument("--mode", choices=["fast", "slow"], default="fast")
parser.add_argument("--speed", choices=MODES)
parser.add_argument("--dry-run", action="store_true", help="Send nothing")
parser.add_argument("--tag", action="append", help="Tags for the batch")
parser.add_argument("--api-token", default="", help="For the mail service")
args = parser.parse_args()
print(f"customer={args.customer} mode={args.mode} dry_run={args.dry_run} tags={args.tag}")
print(f"token={args.api_token}")
`;

const MAIN = `def main(rows: int = 3, label: str = "demo") -> dict:
    """Make some rows.

    Args:
        rows: How many rows to make.
        label: What to call them.
    """
    print(f"making {rows} rows called {label}")
    return {"rows": rows, "label": label}
`;

const TOKEN = 'tok-e2e-5ecret-value';

function output(page: Page) {
  return page.getByRole('log', { name: 'Output' });
}

function runFacts(page: Page) {
  return page.getByRole('region', { name: 'Run' });
}

function preview(page: Page) {
  return page.getByRole('region', { name: 'Run form' });
}

function runForm(page: Page) {
  return page.getByRole('region', { name: 'Inputs', exact: true });
}

function givenInputs(page: Page) {
  return page.getByRole('region', { name: 'Inputs given' });
}

async function typeCode(page: Page, code: string) {
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.insertText(code);
}

test('an argparse script: its form previewed as it is typed, filled to run, remembered and offered again', async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page);
  const name = `Invoices ${Date.now()}`;
  const id = await createScript(page, name, 'print("no inputs yet")\n');

  // The editor's preview follows the code on screen, unsaved.
  await openHydrated(page, `/scripts/${id}`);
  await expect(preview(page).getByText('no inputs', { exact: true })).toBeVisible();
  await expect(editor(page)).toBeVisible();
  await typeCode(page, FIRST);
  await expect(preview(page).getByText('1 input · argparse')).toBeVisible();
  await expect(preview(page).getByLabel('customer')).toBeDisabled();
  await expect(preview(page).getByText('Whose invoices to send')).toBeVisible();
  await typeCode(page, FULL);
  await expect(preview(page).getByLabel('mode')).toBeVisible();
  await expect(preview(page).getByLabel('mode')).toHaveValue('fast');
  await expect(preview(page).getByLabel('dry_run')).not.toBeChecked();
  await expect(preview(page).getByLabel('tag')).toBeVisible();
  await expect(preview(page).getByLabel('api_token')).toHaveAttribute('type', 'password');
  // The computed choices are named, with their line, not dropped.
  await expect(preview(page).getByText(/^Line 7: /)).toBeVisible();
  await preview(page).scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'end2end/screenshots/inputs-editor-preview.png', fullPage: true });
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();

  // The dashboard's quick action opens the form instead of running at once.
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);
  await page.getByRole('row', { name: new RegExp(name) }).getByRole('link', { name: `Run ${name} with inputs…` }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await hydrated(page);

  // Checked before it is sent, in words, at the input.
  const form = runForm(page);
  await expect(form.getByLabel('mode')).toHaveValue('fast');
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(form.getByRole('alert')).toHaveText('customer is required');
  await form.getByLabel('customer').fill('4.5');
  await expect(form.getByRole('alert')).toHaveText('customer must be a whole number, not 4.5');
  await form.getByLabel('customer').fill('42');
  await expect(form.getByRole('alert')).toHaveCount(0);
  await form.getByLabel('mode').selectOption('slow');
  await form.getByLabel('dry_run').check();
  await form.getByLabel('tag').fill('north\nsouth');
  await form.getByLabel('api_token').fill(TOKEN);
  await page.screenshot({ path: 'end2end/screenshots/inputs-execute-form.png', fullPage: true });
  await page.getByRole('button', { name: '▶ Run' }).click();

  await expect(output(page).getByText("customer=42 mode=slow dry_run=True tags=['north', 'south']", { exact: true })).toBeVisible({ timeout: 90_000 });
  await expect(runFacts(page).getByText('succeeded')).toBeVisible();
  // The secret is masked in the log and never shown back.
  await expect(output(page).getByText('token=***', { exact: true })).toBeVisible();
  expect(await page.content()).not.toContain(TOKEN);

  // The run page shows what the run was given, the secret as ***.
  await page.getByRole('link', { name: /^Run #\d+ details$/ }).click();
  await expect(page).toHaveURL(/\/executions\/\d+$/);
  await hydrated(page);
  const runId = Number(new URL(page.url()).pathname.split('/').pop());
  await expect(givenInputs(page).getByRole('row', { name: /customer/ })).toContainText('42');
  await expect(givenInputs(page).getByRole('row', { name: /mode/ })).toContainText('slow');
  await expect(givenInputs(page).getByRole('row', { name: /api_token/ })).toContainText('***');
  await page.screenshot({ path: 'end2end/screenshots/inputs-run-page.png', fullPage: true });

  // "Run again with these inputs": the form prefilled, the secret to be typed again.
  await page.getByRole('link', { name: 'Run again with these inputs' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute\\?rerun=${runId}$`));
  await hydrated(page);
  await expect(form.getByText(`Prefilled from run #${runId}`)).toBeVisible();
  await expect(form.getByLabel('customer')).toHaveValue('42');
  await expect(form.getByLabel('mode')).toHaveValue('slow');
  await expect(form.getByLabel('dry_run')).toBeChecked();
  await expect(form.getByLabel('tag')).toHaveValue('north\nsouth');
  await expect(form.getByLabel('api_token')).toHaveValue('');
  await expect(form.getByText('A secret is never shown back: type it again.')).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/inputs-rerun-prefilled.png', fullPage: true });

  // Opened plainly, the page starts from the latest run too; a change runs with it.
  await openHydrated(page, `/scripts/${id}/execute`);
  await expect(form.getByLabel('customer')).toHaveValue('42');
  await form.getByLabel('customer').fill('7');
  await form.getByLabel('dry_run').uncheck();
  await form.getByLabel('api_token').fill(TOKEN);
  await page.getByRole('button', { name: '▶ Run again' }).click();
  await expect(output(page).getByText("customer=7 mode=slow dry_run=False tags=['north', 'south']", { exact: true })).toBeVisible({ timeout: 90_000 });
  await expect(givenInputs(page).getByRole('row', { name: /customer/ })).toContainText('7');
});

test("a main() script: its inputs from the signature and docstring, its result on the run page", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page);
  const name = `Rows ${Date.now()}`;
  const id = await createScript(page, name, MAIN);

  await openHydrated(page, `/scripts/${id}/execute`);
  const form = runForm(page);
  await expect(form.getByLabel('rows')).toHaveValue('3');
  await expect(form.getByText('How many rows to make.')).toBeVisible();
  await form.getByLabel('label').fill('north');
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(output(page).getByText('making 3 rows called north', { exact: true })).toBeVisible({ timeout: 90_000 });
  await expect(runFacts(page).getByText('succeeded')).toBeVisible();
  const result = page.getByRole('region', { name: 'Result' });
  await expect(result).toContainText('"rows": 3');

  await page.getByRole('link', { name: /^Run #\d+ details$/ }).click();
  await expect(page).toHaveURL(/\/executions\/\d+$/);
  await hydrated(page);
  await expect(result).toContainText('"rows": 3');
  await expect(result).toContainText('"label": "north"');
  await expect(givenInputs(page).getByRole('row', { name: /label/ })).toContainText('north');
  await page.screenshot({ path: 'end2end/screenshots/inputs-main-result.png', fullPage: true });
});
