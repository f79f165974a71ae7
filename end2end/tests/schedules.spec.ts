import { test, expect, Locator, Page } from '@playwright/test';
import { createSchedule, createScript, createUser, failOnPageErrors, hydrated, openHydrated, runRows, signIn, startRun } from './helpers';

// The browser's own zone is the default of a new schedule: pin it so the test knows it.
test.use({ timezoneId: 'Europe/Berlin', viewport: { width: 1360, height: 900 } });

failOnPageErrors();

function preview(page: Page) {
  return page.getByRole('region', { name: 'Preview' });
}

/** The next runs a preview lists. */
function fireTimes(preview: Locator) {
  return preview.getByRole('list').getByRole('listitem');
}

/** The schedule's row: the one whose own text is exactly the expression (its cron cell). */
function scheduleRow(page: Page, expression: string) {
  return page.getByRole('row').filter({ has: page.getByText(expression, { exact: true }) });
}

test('make a schedule by typing its expression, then edit, pause, resume and delete it', async ({ page }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const name = `Nightly ${Date.now()}`;
  const id = await createScript(page, name);

  // From the script's page, as a person gets there.
  await openHydrated(page, `/scripts/${id}`);
  await page.getByRole('link', { name: 'Schedules' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/schedules$`));
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Schedules', exact: true })).toBeVisible();
  await expect(page.getByRole('link', { name: `← ${name}` })).toHaveAttribute('href', `/scripts/${id}`);
  await expect(page.getByRole('link', { name: '▶ Runner' })).toHaveAttribute('href', `/scripts/${id}/execute`);
  await expect(page.getByRole('heading', { name: 'No schedules yet' })).toBeVisible();

  // Nothing yet: the form is open, in the browser's zone.
  const expr = page.getByLabel('Cron expression');
  const zone = page.getByRole('combobox', { name: 'Time zone' });
  await expect(zone).toHaveValue('Europe/Berlin');
  await expect(preview(page)).toContainText('Type an expression or pick a preset');

  // A mistake is named under the field, in words, while typing.
  await expr.pressSequentially('61 * * * *', { delay: 40 });
  await expect(page.getByRole('alert').filter({ hasText: 'minute field `61`' })).toBeVisible();
  await expect(expr).toHaveAttribute('aria-invalid', 'true');
  await expect(preview(page)).toContainText('Fix the expression');
  await page.screenshot({ path: 'end2end/screenshots/schedules-invalid.png', fullPage: true });

  // Fixed, it is described with its next five runs.
  await expr.fill('');
  await expr.pressSequentially('30 9 * * 1-5', { delay: 40 });
  await expect(expr).toHaveAttribute('aria-invalid', 'false');
  await expect(preview(page).getByText(/Monday/)).toBeVisible();
  await expect(fireTimes(preview(page))).toHaveCount(5);
  await expect(preview(page).getByText('Next 5 runs · Europe/Berlin')).toBeVisible();

  // Both day fields set: the words say whether a day must match both fields, as in cron…
  await expr.fill('0 0 22 * */2');
  await expect(preview(page).getByText('At 00:00, on the 22nd if it is a Sunday, Tuesday, Thursday or Saturday.', { exact: true })).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/schedules-day-rule.png', fullPage: true });
  // …or either of them.
  await expr.fill('0 0 1 * MON');
  await expect(preview(page).getByText('At 00:00, on the 1st, or on Mondays.', { exact: true })).toBeVisible();

  // A preset fills the field.
  await page.getByRole('button', { name: 'Every 15 minutes' }).click();
  await expect(expr).toHaveValue('*/15 * * * *');
  await expect(fireTimes(preview(page)).first()).toContainText(/in (a few seconds|\d+ min)/);

  // The zone is found by searching, with the mouse…
  await zone.click();
  await expect(page.getByRole('option', { name: /Europe\/Berlin/ })).toHaveAttribute('aria-selected', 'true');
  await page.screenshot({ path: 'end2end/screenshots/schedules-zone-picker.png' });
  await zone.fill('tokyo');
  await page.getByRole('option', { name: /Asia\/Tokyo/ }).click();
  await expect(zone).toHaveValue('Asia/Tokyo');
  await expect(preview(page).getByText('Next 5 runs · Asia/Tokyo')).toBeVisible();
  // …and with the keyboard alone; Escape keeps the zone chosen before.
  await zone.fill('new yo');
  await expect(page.getByRole('option', { name: /America\/New York/ })).toBeVisible();
  await zone.press('Escape');
  await expect(zone).toHaveValue('Asia/Tokyo');
  await zone.fill('new yo');
  await zone.press('ArrowDown');
  await zone.press('ArrowUp');
  await zone.press('Enter');
  await expect(zone).toHaveValue('America/New_York');

  // Sundays of March at 02:30: on the day clocks spring forward that time does not exist.
  await expr.fill('30 2 * 3 0');
  const shifted = fireTimes(preview(page)).filter({ has: page.getByText('DST', { exact: true }) });
  await expect(preview(page).getByText('Next 5 runs · America/New York')).toBeVisible();
  await expect(shifted).toHaveCount(1);
  await expect(shifted.getByText('DST', { exact: true })).toHaveAttribute('title', /clocks spring forward/);
  // It runs once, at the first valid instant after the gap.
  await expect(shifted).toContainText('03:00');
  await page.screenshot({ path: 'end2end/screenshots/schedules-new-form-dst.png', fullPage: true });

  await page.getByRole('button', { name: 'Create schedule' }).click();
  const row = scheduleRow(page, '30 2 * 3 0');
  await expect(row).toBeVisible();
  await expect(row).toContainText('America/New York');
  await expect(row).toContainText(/Sun \d+ Mar/);
  await expect(row).toContainText('not yet');
  await expect(page.getByRole('heading', { name: 'No schedules yet' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'New schedule' })).toBeVisible();

  // Edit in place: the form is filled in, and only a change can be saved.
  await row.getByRole('button', { name: 'Edit schedule 30 2 * 3 0' }).click();
  const editor = page.getByRole('group', { name: 'Edit schedule 30 2 * 3 0' });
  await expect(editor.getByLabel('Cron expression')).toHaveValue('30 2 * 3 0');
  await expect(editor.getByRole('combobox', { name: 'Time zone' })).toHaveValue('America/New_York');
  await expect(editor.getByRole('button', { name: 'Save changes' })).toBeDisabled();
  await editor.getByRole('button', { name: 'Weekdays at 09:30' }).click();
  await expect(fireTimes(editor.getByRole('region', { name: 'Preview' }))).toHaveCount(5);
  await page.screenshot({ path: 'end2end/screenshots/schedules-edit.png', fullPage: true });
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await expect(editor).toHaveCount(0);
  const edited = scheduleRow(page, '30 9 * * 1-5');
  await expect(edited).toContainText(/Monday/);
  await expect(edited).toContainText('America/New York');

  // The switch pauses it at once, and the server keeps it so.
  const active = edited.getByRole('switch', { name: 'Schedule 30 9 * * 1-5 is active' });
  await expect(active).toBeChecked();
  await active.click();
  await expect(active).not.toBeChecked();
  await expect(edited).toContainText('paused');
  await openHydrated(page, `/scripts/${id}/schedules`);
  await expect(scheduleRow(page, '30 9 * * 1-5').getByRole('switch')).not.toBeChecked();
  await expect(scheduleRow(page, '30 9 * * 1-5')).toContainText('paused');
  await scheduleRow(page, '30 9 * * 1-5').getByRole('switch').click();
  await expect(scheduleRow(page, '30 9 * * 1-5').getByRole('switch')).toBeChecked();
  await expect(scheduleRow(page, '30 9 * * 1-5')).toContainText(/in \d+ (h|day|days|min)/);
  await page.screenshot({ path: 'end2end/screenshots/schedules-list.png', fullPage: true });
  await page.getByRole('button', { name: 'New schedule' }).click();
  await expect(page.getByRole('region', { name: 'Preview' })).toBeVisible();
  await page.getByRole('button', { name: 'Daily at 09:00' }).click();
  await expect(fireTimes(preview(page))).toHaveCount(5);
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await page.screenshot({ path: 'end2end/screenshots/schedules-list-form-dark.png', fullPage: true });
  await page.getByRole('button', { name: 'Switch light/dark theme' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('region', { name: 'Preview' })).toHaveCount(0);

  // Delete asks first, in the page; Escape keeps it.
  await scheduleRow(page, '30 9 * * 1-5').getByRole('button', { name: 'Delete schedule 30 9 * * 1-5' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Delete this schedule?' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.screenshot({ path: 'end2end/screenshots/schedules-delete-confirm.png', fullPage: true });
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(scheduleRow(page, '30 9 * * 1-5').getByRole('button', { name: 'Delete schedule 30 9 * * 1-5' })).toBeFocused();
  await expect(scheduleRow(page, '30 9 * * 1-5')).toBeVisible();
  await scheduleRow(page, '30 9 * * 1-5').getByRole('button', { name: 'Delete schedule 30 9 * * 1-5' }).click();
  await dialog.getByRole('button', { name: 'Delete schedule' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'No schedules yet' })).toBeVisible();
  expect(await (await page.request.get(`/api/scripts/${id}/schedules`)).json()).toEqual([]);
  await page.screenshot({ path: 'end2end/screenshots/schedules-empty.png', fullPage: true });
});

test('a schedule fires, and its past runs are one click away', async ({ page }) => {
  test.setTimeout(180_000);
  await signIn(page);
  const id = await createScript(page, `Every minute ${Date.now()}`, 'print("fired by the clock")\n');
  await openHydrated(page, `/scripts/${id}/schedules`);
  await page.getByLabel('Cron expression').fill('* * * * *');
  await expect(fireTimes(preview(page))).toHaveCount(5);
  await page.getByRole('button', { name: 'Create schedule' }).click();
  const row = scheduleRow(page, '* * * * *');
  await expect(row).toContainText(/in (a few seconds|1 min)/);

  // The page reads the list again once the due time has passed.
  const lastRun = row.getByRole('link', { name: /queued|running|succeeded|failed/ });
  await expect(lastRun).toBeVisible({ timeout: 120_000 });
  await page.screenshot({ path: 'end2end/screenshots/schedules-fired.png', fullPage: true });

  const schedule = (await (await page.request.get(`/api/scripts/${id}/schedules`)).json())[0];
  await row.getByRole('link', { name: 'Past runs' }).click();
  await expect(page).toHaveURL(new RegExp(`/executions\\?schedule=${schedule.id}$`));
  await hydrated(page);
  const runs = runRows(page);
  await expect(runs.first()).toContainText('schedule');
  const chip = page.getByRole('button', { name: 'Remove the schedule filter * * * * *' });
  await expect(chip).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/executions-by-schedule.png', fullPage: true });

  // A run by hand is not one of the schedule's.
  await startRun(page, id);
  await openHydrated(page, `/executions?schedule=${schedule.id}`);
  await expect(runs.first()).toBeVisible();
  await expect(runs.filter({ hasNot: page.getByRole('cell', { name: 'schedule', exact: true }) })).toHaveCount(0);
  await chip.click();
  await expect(page).toHaveURL(/\/executions$/);
  await expect(runs.filter({ hasText: 'manual' }).first()).toBeVisible();
});

test('what a schedule does when its runs collide or the server was down is chosen on its form', async ({ page }) => {
  await signIn(page);
  const id = await createScript(page, `Slow job ${Date.now()}`);
  await openHydrated(page, `/scripts/${id}/schedules`);
  await page.getByLabel('Cron expression').fill('*/5 * * * *');
  await expect(fireTimes(preview(page))).toHaveCount(5);
  // A new schedule skips a time while its last run is still going, and passes missed times over.
  const overlap = page.getByLabel('If its last run is still going');
  const catchUp = page.getByLabel('Times missed while the server was down');
  await expect(overlap).toHaveValue('skip');
  await expect(catchUp).toHaveValue('none');
  await overlap.selectOption({ label: 'Queue one run after it' });
  await catchUp.selectOption({ label: 'Run once for them all' });
  await page.getByRole('button', { name: 'Create schedule' }).click();
  const row = scheduleRow(page, '*/5 * * * *');
  await expect(row).toContainText('It queues one run behind a run still going; it runs once for times missed while down.');
  const stored = (await (await page.request.get(`/api/scripts/${id}/schedules`)).json())[0];
  expect([stored.overlap, stored.catch_up]).toEqual(['queue', 'last']);

  // Changed from the row's edit form.
  await row.getByRole('button', { name: 'Edit schedule */5 * * * *' }).click();
  const editor = page.getByRole('group', { name: 'Edit schedule */5 * * * *' });
  await editor.getByLabel('If its last run is still going').selectOption({ label: 'Stop it and start anew' });
  await editor.getByRole('button', { name: 'Save changes' }).click();
  await expect(row).toContainText('It stops a run still going to start anew;');

  // Nothing skipped yet, and the page says so.
  await row.getByText('Skipped times').click();
  await expect(row.getByText('None: every time has started a run.')).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/schedules-policies.png', fullPage: true });
});

test('a viewer sees the schedules but no control to change them', async ({ page }) => {
  await signIn(page);
  const name = `Watched ${Date.now()}`;
  const id = await createScript(page, name);
  await createSchedule(page, id, { cron_expression: '0 9 * * MON', timezone: 'Europe/Berlin' });
  const viewer = { username: `vera${Date.now()}`, password: 'vera-password', role: 'viewer' as const };
  await createUser(page, viewer);

  await signIn(page, viewer.username, viewer.password);
  await openHydrated(page, `/scripts/${id}/schedules`);
  const row = scheduleRow(page, '0 9 * * MON');
  await expect(row).toContainText('Europe/Berlin');
  await expect(row).toContainText('active');
  await expect(row.getByRole('link', { name: 'Past runs' })).toBeVisible();
  await expect(page.getByRole('button', { name: /New schedule|Add a schedule|Edit|Delete|Create/ })).toHaveCount(0);
  await expect(page.getByRole('switch')).toHaveCount(0);
  await expect(page.getByLabel('Cron expression')).toHaveCount(0);
  await page.screenshot({ path: 'end2end/screenshots/schedules-viewer.png', fullPage: true });
  expect((await page.request.post(`/api/scripts/${id}/schedules`, { data: { cron_expression: '@daily' } })).status()).toBe(403);
});

test('an unknown script has no schedules page: a 404 that says so', async ({ page }) => {
  await signIn(page);
  const response = await page.goto('/scripts/987654321/schedules');
  expect(response!.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'This script cannot be opened' })).toBeVisible();
});
