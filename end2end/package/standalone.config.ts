import { defineConfig } from '@playwright/test';
import { chmodSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The packaged program (scripts/package keeps it in target/package/pytask: the site is built
// into it) copied into an empty temporary directory and started from `/`, with no
// PYTASK_SITE_ROOT: every page and Monaco must come from the program itself.
const port = Number(process.env.PYTASK_E2E_PORT ?? 3112);
const work = mkdtempSync(join(tmpdir(), 'pytask-standalone-'));
const program = join(work, 'pytask');
copyFileSync(process.env.PYTASK_PACKAGED_BIN ?? resolve(__dirname, '../../target/package/pytask'), program);
chmodSync(program, 0o755);

export default defineConfig({
  testDir: '.',
  testMatch: 'standalone.spec.ts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 1,
  reporter: [['list']],
  outputDir: '../test-results/standalone',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    // `env -u`: scripts/test exports PYTASK_SITE_ROOT for the other Playwright run.
    command: `cd / && exec env -u PYTASK_SITE_ROOT ${program} serve --bind 127.0.0.1:${port} --data-dir ${work}/data`,
    url: `http://127.0.0.1:${port}/api/health`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
