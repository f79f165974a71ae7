import { test, expect, Page } from '@playwright/test';
import { createScript, createUser, editor, failOnPageErrors, hydrated, openHydrated, runRows, signIn, startRun } from './helpers';

failOnPageErrors();

function output(page: Page) {
  return page.getByRole('log', { name: 'Output' });
}

function runFacts(page: Page) {
  return page.getByRole('region', { name: 'Run' });
}

test('run a script from its page and watch its lines arrive live', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const name = `Ticker ${Date.now()}`;
  const content = [
    'import sys, time',
    'for i in range(1, 11):',
    '    print(f"tick {i}")',
    '    time.sleep(0.4)',
    'print("careful: nearly done", file=sys.stderr)',
    'print("[pytask] run succeeded (forged by the script)")',
    'print("done")',
    '',
  ].join('\n');
  const id = await createScript(page, name, content);

  // Changed but not saved: the button saves first, so the run is of the code on screen.
  await openHydrated(page, `/scripts/${id}`);
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+End');
  await page.keyboard.type('print("edited on screen")');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: '▶ Save & run' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await expect(page.getByRole('heading', { name })).toBeVisible();

  // The first lines show while the script still sleeps between the next ones.
  await expect(output(page).getByText('tick 1', { exact: true })).toBeVisible();
  await expect(runFacts(page).getByText('running')).toBeVisible();
  await expect(output(page)).not.toContainText('done');
  await expect(page.getByText('● live')).toBeVisible();
  await expect(page.getByRole('button', { name: '■ Stop' })).toBeVisible();

  await expect(output(page).getByText('done', { exact: true })).toBeVisible();
  await expect(output(page).getByText('edited on screen', { exact: true })).toBeVisible();
  await expect(runFacts(page).getByText('succeeded')).toBeVisible();
  await expect(runFacts(page).getByRole('definition').filter({ hasText: /^0$/ })).toBeVisible();
  await expect(page.getByRole('button', { name: '▶ Run again' })).toBeEnabled();
  await expect(page.getByRole('button', { name: '■ Stop' })).toHaveCount(0);

  // stderr is marked apart from stdout. A log line has no role, and its stream shows only in its
  // colour (and title): found and checked by class.
  const warning = output(page).locator('.log-line', { hasText: 'careful: nearly done' });
  await expect(warning).toHaveClass(/stderr/);
  await expect(output(page).locator('.log-line', { hasText: 'tick 3' })).not.toHaveClass(/stderr/);
  // A line the script prints to look like the server's is its own stdout, not a server note.
  const forged = output(page).locator('.log-line', { hasText: 'forged by the script' });
  await expect(forged).not.toHaveClass(/note/);
  await expect(forged).toHaveAttribute('title', 'stdout');
  await page.screenshot({ path: 'end2end/screenshots/execute-finished.png', fullPage: true });

  // The download is the whole log as text.
  const download = page.getByRole('link', { name: 'Download log' });
  const text = await (await page.request.get((await download.getAttribute('href'))!)).text();
  expect(text).toContain('tick 10');
  expect(text).toContain('careful: nearly done');

  // The script's run history lists the run; the whole row opens it. (The history has no name to
  // find it by, and no other row on the page says "succeeded".)
  await openHydrated(page, `/scripts/${id}`);
  await page.getByRole('row', { name: /succeeded/ }).getByRole('cell', { name: 'manual' }).click();
  await expect(page).toHaveURL(/\/executions\/\d+$/);
  await hydrated(page);
  await expect(output(page).getByText('done', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await page.screenshot({ path: 'end2end/screenshots/execution-detail-dark.png', fullPage: true });
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
});

test('stop a long run, then find it among all runs by script and status', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const name = `Sleeper ${Date.now()}`;
  const id = await createScript(page, name, 'import time\nprint("going to sleep", flush=True)\ntime.sleep(600)\n');
  await createScript(page, `Other ${Date.now()}`, 'print("other")\n');

  // Run from the dashboard's quick action.
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);
  await page.screenshot({ path: 'end2end/screenshots/dashboard-run-action.png', fullPage: true });
  await page.getByRole('row', { name: new RegExp(name) }).getByRole('button', { name: `Run ${name}` }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await hydrated(page);
  await expect(output(page).getByText('going to sleep')).toBeVisible();
  await expect(runFacts(page).getByText('running')).toBeVisible();
  await expect(runFacts(page).getByRole('definition').filter({ hasText: /^0:0\d$/ })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/execute-running.png', fullPage: true });

  await page.getByRole('button', { name: '■ Stop' }).click();
  await expect(runFacts(page).getByText('stopped')).toBeVisible({ timeout: 20_000 });
  await expect(page.getByRole('button', { name: '■ Stop' })).toHaveCount(0);

  // Opening the page again shows that last run, not an empty page.
  await openHydrated(page, `/scripts/${id}/execute`);
  await expect(runFacts(page).getByText('stopped')).toBeVisible();
  await expect(output(page).getByText('going to sleep')).toBeVisible();

  // All runs: filter by script and status; the view lives in the URL.
  await openHydrated(page, '/executions');
  await page.getByLabel('Script').selectOption({ label: name });
  await expect(page).toHaveURL(new RegExp(`script_id=${id}`));
  await page.getByLabel('Status').selectOption('stopped');
  await expect(page).toHaveURL(new RegExp(`script_id=${id}&status=stopped`));
  const rows = runRows(page);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(name);
  await expect(rows.first()).toContainText('stopped');
  await page.screenshot({ path: 'end2end/screenshots/executions-filtered.png', fullPage: true });

  await page.getByLabel('Status').selectOption('succeeded');
  await expect(page.getByText('No run matches')).toBeVisible();

  // A shared link opens the same view.
  await openHydrated(page, `/executions?script_id=${id}&status=stopped`);
  await expect(page.getByLabel('Status')).toHaveValue('stopped');
  await expect(page.getByLabel('Script')).toHaveValue(String(id));
  await rows.first().getByRole('link', { name: /^#\d+$/ }).click();
  await expect(page.getByRole('heading', { name: /^Run #\d+$/ })).toBeVisible();
  await hydrated(page);
  await expect(runFacts(page).getByText('stopped')).toBeVisible();
  await expect(output(page).getByText('going to sleep')).toBeVisible();
  await expect(runFacts(page).getByText('manual')).toBeVisible();
});

test('a run of 100,000 lines shows its last line with only a few hundred rows in the page', async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page);
  const id = await createScript(page, `Chatty ${Date.now()}`, 'for i in range(1, 100_001):\n    print(f"line {i} of the long log")\n');

  await openHydrated(page, `/scripts/${id}/execute`);
  await expect(page.getByRole('heading', { name: 'Not run yet' })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/execute-not-run-yet.png', fullPage: true });
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(output(page).getByText('line 100000 of the long log')).toBeVisible({ timeout: 120_000 });
  await expect(runFacts(page).getByText('succeeded')).toBeVisible();
  // The script's 100,000 and the server's few notes (making the environment).
  await expect(page.getByText(/^100,0\d\d lines$/)).toBeVisible();
  // Log lines have no role: counted by class.
  expect(await output(page).locator('.log-line').count()).toBeLessThan(300);
  await page.screenshot({ path: 'end2end/screenshots/execute-100k.png', fullPage: true });

  // Scrolling up stops following and offers the way back.
  await output(page).hover();
  await page.mouse.wheel(0, -4000);
  await expect(page.getByRole('button', { name: /Jump to latest/ })).toBeVisible();
  await expect(output(page).getByText('line 100000 of the long log')).toHaveCount(0);
  await page.getByRole('button', { name: /Jump to latest/ }).click();
  await expect(output(page).getByText('line 100000 of the long log')).toBeVisible();

  // The run's own page replays the whole stored log.
  const runs = await (await page.request.get(`/api/executions?script_id=${id}&per_page=1`)).json();
  await openHydrated(page, `/executions/${runs.items[0].id}`);
  await expect(output(page).getByText('line 100000 of the long log')).toBeVisible({ timeout: 60_000 });
  expect(await output(page).locator('.log-line').count()).toBeLessThan(300);
});

test('a viewer sees runs but has no Run or Stop', async ({ page }) => {
  await signIn(page);
  const id = await createScript(page, `Watched ${Date.now()}`, 'import time\nprint("up", flush=True)\ntime.sleep(600)\n');
  const viewer = { username: `viktor${Date.now()}`, password: 'viktor-password', role: 'viewer' as const };
  await createUser(page, viewer);
  const runId = await startRun(page, id);

  await signIn(page, viewer.username, viewer.password);
  await openHydrated(page, `/scripts/${id}/execute`);
  await expect(output(page).getByText('up', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: /Run/ })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Stop/ })).toHaveCount(0);
  await openHydrated(page, `/executions/${runId}`);
  await expect(runFacts(page).getByText('running')).toBeVisible();
  await expect(page.getByRole('button', { name: /Stop/ })).toHaveCount(0);
  expect((await page.request.post(`/api/executions/${runId}/stop`, { data: {} })).status()).toBe(403);

  await signIn(page);
  expect((await page.request.post(`/api/executions/${runId}/stop`, { data: {} })).status()).toBe(200);
});

test('an unknown run or script says so with a 404', async ({ page }) => {
  await signIn(page);
  const run = await page.goto('/executions/987654321');
  expect(run!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'This run cannot be opened' })).toBeVisible();
  const script = await page.goto('/scripts/987654321/execute');
  expect(script!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'This script cannot be opened' })).toBeVisible();
});
