import { test, expect, Page } from '@playwright/test';
import { editor, failOnPageErrors, hydrated, openHydrated, signIn, signOut } from './helpers';

failOnPageErrors();

// Under the Content-Security-Policy (issue #23) every page must still hydrate, Monaco must still
// load and start its web workers, and the live log must still stream; any script the page did not
// write itself must not run.

/** Markup an attacker would put where the app shows text: escaped, it shows as text; were it
 * ever inserted as markup, the policy would refuse to run it. */
const HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';

/** What the browser refused on this test's pages: `securitypolicyviolation` events, and console
 * lines about the policy (Chromium logs each refusal, in the page or in one of its workers) or
 * about a web worker Monaco could not start (it would fall back to the main thread, silently). */
let refused: string[] = [];

test.beforeEach(async ({ page }) => {
  refused = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Content-Security-Policy|Refused to|web worker/i.test(message.text())) {
      refused.push(`console ${message.type()}: ${message.text()}`);
    }
  });
  // A binding, not a global array: it survives navigations, and the policy cannot block it.
  await page.exposeFunction('reportRefusal', (what: string) => refused.push(what));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { reportRefusal: (what: string) => void }).reportRefusal;
      report(`${event.effectiveDirective} refused ${event.blockedURI || 'inline code'} in ${event.sourceFile}:${event.lineNumber}`);
    });
  });
});

/** Nothing was refused on the pages so far, and nothing injected ran. */
async function nothingRefused(page: Page, where: string) {
  expect(refused, where).toEqual([]);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), where).toBeUndefined();
}

async function visit(page: Page, path: string) {
  await openHydrated(page, path);
  await nothingRefused(page, path);
}

/** The editor's visible text (Monaco renders spaces as no-break spaces). */
async function editorText(page: Page) {
  return (await editor(page).locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
}

test('every page hydrates under the policy: Monaco types, the live log streams, nothing is refused', async ({ page }) => {
  test.setTimeout(90_000);
  // The sign-in page, or on a fresh server the setup page first.
  await signIn(page);
  await nothingRefused(page, 'sign-in');
  const content = 'import time\nfor i in range(1, 4):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.3)\n';
  const created = await page.request.post('/api/scripts', { data: { name: `Policed ${Date.now()}`, description: HOSTILE, content } });
  expect(created.status()).toBe(201);
  const id: number = (await created.json()).id;

  // The list shows the description as the text it is.
  await visit(page, '/');
  await expect(page.getByText(HOSTILE).first()).toBeVisible();
  await page.screenshot({ path: 'end2end/screenshots/csp-scripts.png', fullPage: true });

  // Monaco loads (its loader adds <script src> elements, its styles are inline), starts a web
  // worker from a blob: URL, and takes typing.
  await visit(page, '/scripts/new');
  await expect(editor(page)).toBeVisible();
  await editor(page).click();
  await page.keyboard.type('print("typed under the policy")');
  await expect.poll(() => editorText(page)).toContain('print("typed under the policy")');
  await expect.poll(() => page.workers().length).toBeGreaterThan(0);
  await page.getByLabel('Name').fill(`Typed ${Date.now()}`);
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page).toHaveURL(/\/scripts\/\d+$/);
  await nothingRefused(page, '/scripts/new after typing and saving');

  // The script's own page, then a run whose lines arrive over the WebSocket.
  await visit(page, `/scripts/${id}`);
  await expect(editor(page)).toBeVisible();
  await expect.poll(() => editorText(page)).toContain('print(f"tick {i}", flush=True)');
  await editor(page).click();
  await page.keyboard.press('ControlOrMeta+End');
  await page.keyboard.type('print("typed before the run")');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: '▶ Save & run' }).click();
  await expect(page).toHaveURL(new RegExp(`/scripts/${id}/execute$`));
  await hydrated(page);
  const output = page.getByRole('log', { name: 'Output' });
  await expect(output.getByText('tick 1', { exact: true })).toBeVisible();
  await expect(output.getByText('typed before the run', { exact: true })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Run' }).getByText('succeeded')).toBeVisible();
  await expect(page.getByText(HOSTILE).first()).toBeVisible();
  await nothingRefused(page, `/scripts/${id}/execute`);
  await page.getByRole('link', { name: /^Run #\d+ details$/ }).click();
  await expect(page).toHaveURL(/\/executions\/\d+$/);
  await hydrated(page);
  await expect(output.getByText('tick 3', { exact: true })).toBeVisible();
  await visit(page, new URL(page.url()).pathname);
  await visit(page, `/scripts/${id}/execute`);
  await visit(page, '/executions');

  await visit(page, `/scripts/${id}/schedules`);
  await expect(page.getByRole('heading', { name: 'Schedules', exact: true })).toBeVisible();
  for (const path of ['/users', '/settings/tokens', '/settings/env', '/no/such/page']) {
    await visit(page, path);
  }
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();

  await signOut(page);
  await nothingRefused(page, '/login after signing out');
  await visit(page, '/login');
});

test('markup that reaches a page anyway is refused by the policy', async ({ page }) => {
  await signIn(page);
  await visit(page, '/');
  // What an escaping bug would let through: an inline script and an inline event handler.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.pwned = 3';
    document.body.append(script);
    const image = document.createElement('img');
    image.setAttribute('onerror', 'window.pwned = 4');
    image.src = '/no-such-image.png';
    document.body.append(image);
  });
  await expect.poll(() => refused.filter((line) => line.startsWith('script-src-elem refused inline'))).toHaveLength(1);
  await expect.poll(() => refused.filter((line) => line.startsWith('script-src-attr refused inline'))).toHaveLength(1);
  expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
});
