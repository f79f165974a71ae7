import { defineConfig } from '@playwright/test';

// The server the Debian package installed, started by scripts/package-test as its unit starts it
// (PYTASK_PACKAGE_URL); that script made the admin and the script this spec opens.
const baseURL = process.env.PYTASK_PACKAGE_URL;
if (!baseURL) throw new Error('PYTASK_PACKAGE_URL is not set: run scripts/package-test');

export default defineConfig({
  testDir: '.',
  testMatch: 'installed.spec.ts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 1,
  reporter: [['list']],
  outputDir: '../test-results/installed',
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
