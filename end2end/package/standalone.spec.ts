import { test, expect } from '@playwright/test';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSchedule, createScript, editor, failOnPageErrors, hydrated, openHydrated, signIn, startRun } from '../tests/helpers';

failOnPageErrors();

test('started from / without a site root, every page loads and hydrates', async ({ page }) => {
  await signIn(page);
  const scriptId = await createScript(page, 'standalone', 'print("from the packaged program")\n');
  await createSchedule(page, scriptId, { cron_expression: '0 3 * * *' });
  const runId = await startRun(page, scriptId);
  const pages = [
    '/', '/scripts/new', `/scripts/${scriptId}`, `/scripts/${scriptId}/execute`, `/scripts/${scriptId}/schedules`,
    '/executions', `/executions/${runId}`, '/users', '/settings/tokens', '/settings/env',
  ];
  for (const path of pages) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
    await hydrated(page);
  }
  const missing = await page.goto('/no/such/page');
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await hydrated(page);
});

test('Monaco comes from the program', async ({ page }) => {
  await signIn(page);
  await openHydrated(page, '/scripts/new');
  await expect(editor(page)).toBeVisible();
  await editor(page).click();
  await page.keyboard.type('print("typed")');
  await expect(editor(page)).toContainText('print("typed")');
});

test('the built-in files are compressed, validated and cached by their names', async ({ page }) => {
  // Playwright unpacks compressed bodies, so each encoding's body is compared with the plain one.
  const plain = await page.request.get('/pkg/pytask.wasm', { headers: { 'accept-encoding': 'identity' } });
  expect(plain.status()).toBe(200);
  expect(plain.headers()['content-encoding']).toBeUndefined();
  expect(plain.headers()['content-type']).toBe('application/wasm');
  const wasm = await plain.body();
  for (const encoding of ['br', 'gzip']) {
    const packed = await page.request.get('/pkg/pytask.wasm', { headers: { 'accept-encoding': encoding } });
    const headers = packed.headers();
    expect(headers['content-encoding']).toBe(encoding);
    expect(headers['vary']).toContain('accept-encoding');
    expect(Number(headers['content-length'])).toBeLessThan(wasm.length / 2);
    expect((await packed.body()).equals(wasm)).toBe(true);
  }

  // Same name from one build to the next: checked again on each use, answered 304 when unchanged.
  const js = await page.request.get('/pkg/pytask.js', { headers: { 'accept-encoding': 'br' } });
  expect(js.headers()['cache-control']).toBe('no-cache');
  const etag = js.headers()['etag'];
  expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
  const again = await page.request.get('/pkg/pytask.js', { headers: { 'accept-encoding': 'br', 'if-none-match': etag } });
  expect(again.status()).toBe(304);
  // The app's security headers are on files too.
  expect(js.headers()['x-content-type-options']).toBe('nosniff');
  expect(js.headers()['content-security-policy']).toContain("default-src 'self'");

  // Monaco's chunks are named by their content: kept for a year.
  const chunk = readdirSync(resolve(__dirname, '../../node_modules/monaco-editor/min/vs')).find((name) => /-[A-Za-z0-9_-]{8}\.js$/.test(name));
  expect(chunk).toBeDefined();
  const hashed = await page.request.get(`/monaco/vs/${chunk}`);
  expect(hashed.status()).toBe(200);
  expect(hashed.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  expect((await page.request.get('/monaco/vs/editor/editor.main.js')).headers()['cache-control']).toBe('no-cache');
  expect((await page.request.get('/pkg/no-such-file.js')).status()).toBe(404);
});
