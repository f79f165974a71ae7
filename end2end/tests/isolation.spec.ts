import { test, expect, Page } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, PASSWORD, createScript, createUser, failOnPageErrors, hydrated, openHydrated, signIn, signOut } from './helpers';

// Isolation (SPEC "Isolation"): a script's network switch, what a run ran with and used, and the
// admins' warning when runs are not isolated.

failOnPageErrors();

function runFacts(page: Page) {
  return page.getByRole('region', { name: 'Run' });
}

/** The value shown under a fact's heading on the run page. A `<dd>` is tied to its `<dt>` only by
 * sitting beside it, which no role or label expresses: the pair is found by its wrapper's class. */
function fact(page: Page, name: string) {
  return runFacts(page).locator('.fact', { has: page.getByRole('term').filter({ hasText: new RegExp(`^${name}$`) }) }).getByRole('definition');
}

test('network access is a switch on the script page, saved with the script', async ({ page }) => {
  await signIn(page);
  const id = await createScript(page, `Offline ${Date.now()}`, 'print("no network needed")\n');
  await openHydrated(page, `/scripts/${id}`);

  const network = page.getByRole('switch', { name: 'Network access' });
  await expect(network).toBeChecked();
  await expect(page.getByText('Off: the run has no network at all')).toBeVisible();
  await network.click();
  await expect(network).not.toBeChecked();
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByText('Saved', { exact: true })).toBeVisible();
  expect((await (await page.request.get(`/api/scripts/${id}`)).json()).network).toBe(false);

  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('switch', { name: 'Network access' })).not.toBeChecked();
  await page.getByRole('switch', { name: 'Network access' }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'end2end/screenshots/script-network-off.png', fullPage: true });

  // A new script has it on; the switch is saved with the rest of the form.
  await openHydrated(page, '/scripts/new');
  await expect(page.getByRole('switch', { name: 'Network access' })).toBeChecked();
});

test('a run shows its network, isolation, peak memory and CPU time', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const name = `Measured ${Date.now()}`;
  const id = await createScript(page, name, 'data = bytearray(20 * 1024 * 1024)\nprint("held", len(data))\n', { network: false });

  await openHydrated(page, `/scripts/${id}/execute`);
  await page.getByRole('button', { name: '▶ Run' }).click();
  await expect(runFacts(page).getByText('succeeded')).toBeVisible({ timeout: 60_000 });
  await expect(fact(page, 'Network')).toHaveText('off');
  await expect(fact(page, 'Isolation')).toHaveText(/^(sandboxed|not isolated)$/);
  // Measured from the run's cgroup when there is one; a dash when it could not be.
  await expect(fact(page, 'Peak memory')).toHaveText(/^(\d+(\.\d)? (B|KiB|MiB|GiB)|—)$/);
  await expect(fact(page, 'CPU time')).toHaveText(/^(\d+\.\d+ s|—)$/);

  // The run's own page, opened directly, shows the same.
  await page.getByRole('link', { name: /Run #\d+ details/ }).click();
  await expect(page).toHaveURL(/\/executions\/\d+$/);
  await hydrated(page);
  await expect(fact(page, 'Network')).toHaveText('off');
  await expect(fact(page, 'Status')).toHaveText('succeeded');
  await page.screenshot({ path: 'end2end/screenshots/execution-isolation.png', fullPage: true });

  // The list has a compact column for each.
  await openHydrated(page, `/executions?script_id=${id}`);
  const table = page.getByRole('table');
  await expect(table.getByRole('columnheader', { name: 'Peak mem' })).toBeVisible();
  await expect(table.getByRole('columnheader', { name: 'CPU' })).toBeVisible();
  await expect(table.getByRole('row', { name: /succeeded/ })).toHaveCount(1);
  await page.screenshot({ path: 'end2end/screenshots/executions-usage.png', fullPage: true });
});

test.describe('with --sandbox off', () => {
  // A server of its own: the shared one runs with the default (`required`).
  const port = Number(process.env.PYTASK_E2E_PORT ?? 3111) + 7;
  const base = `http://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  let dataDir = '';

  test.use({ baseURL: base });

  test.beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pytask-e2e-sandbox-off-'));
    const bin = process.env.PYTASK_BIN ?? '../target/release/pytask';
    server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--data-dir', dataDir], {
      env: { ...process.env, PYTASK_SANDBOX: 'off', PYTASK_ADMIN_USER: ADMIN, PYTASK_ADMIN_PASSWORD: PASSWORD, PYTASK_LOG: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const begun = Date.now();
    for (;;) {
      const up = await fetch(`${base}/api/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
      if (Date.now() - begun > 60_000) throw new Error('the server did not start within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  test.afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('an admin sees why runs are not isolated on every page; a viewer does not', async ({ page }) => {
    const health = await (await page.request.get('/api/health')).json();
    expect(health.sandbox).toMatchObject({ mode: 'off', isolated: false });
    const problem: string = health.sandbox.problem;
    expect(problem).toContain('PYTASK_SANDBOX');
    const shown = problem.charAt(0).toUpperCase() + problem.slice(1);

    await signIn(page);
    const banner = page.getByRole('alert').filter({ hasText: 'Only admins see this notice.' });
    await expect(banner).toContainText(shown);
    await page.screenshot({ path: 'end2end/screenshots/sandbox-banner.png', fullPage: true });
    for (const link of ['Executions', 'Users']) {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link }).click();
      await expect(page.getByRole('heading', { name: link, exact: true })).toBeVisible();
      await expect(banner).toContainText(shown);
    }
    await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
    await page.screenshot({ path: 'end2end/screenshots/sandbox-banner-dark.png', fullPage: true });
    await page.getByRole('button', { name: 'Switch light/dark theme' }).click();

    await createUser(page, { username: 'vince', password: 'vince-password', role: 'viewer' });
    await signOut(page);
    await signIn(page, 'vince', 'vince-password');
    await expect(page.getByRole('heading', { name: 'Scripts', exact: true })).toBeVisible();
    await openHydrated(page, '/executions');
    await expect(page.getByRole('heading', { name: 'Executions', exact: true })).toBeVisible();
    await expect(page.getByText('Only admins see this notice.')).toHaveCount(0);
    await expect(page.getByText(problem, { exact: false })).toHaveCount(0);
    expect(await page.content()).not.toContain('PYTASK_SANDBOX');
  });
});
