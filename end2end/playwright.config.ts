import { defineConfig } from '@playwright/test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The suite starts its own servers (the debug builds `cargo leptos build` made), each on its own
// port with a fresh SQLite file and a 2 s access token, and Playwright stops them when done: the
// notes app, and examples/minimal (the engine's second consumer).
const root = path.resolve(__dirname, '..');
const port = process.env.E2E_PORT ?? '3100';
const examplePort = process.env.E2E_EXAMPLE_PORT ?? '3200';
process.env.E2E_DATA_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sessionflow-e2e-'));
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, 'target');
// The notes server's Prometheus listener: global-teardown.ts saves what it counted over the suite
// to target/e2e-metrics.txt.
process.env.E2E_METRICS_PORT ??= '3109';
// The SMTP receiver recovery.spec.ts starts (smtp-tester); the notes server sends there.
process.env.E2E_SMTP_PORT ??= '3125';

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  globalTeardown: './global-teardown.ts',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    { name: 'notes', testIgnore: /example\.spec\.ts/ },
    { name: 'example', testMatch: /example\.spec\.ts/, use: { baseURL: `http://127.0.0.1:${examplePort}` } },
  ],
  webServer: [
    server('server', port, '/healthz', 'site', 'e2e.db', {
      JWT_LEEWAY: '0s',
      // Every test signs up from 127.0.0.1; the limits themselves are tested in server/tests.
      AUTH_RATE_LIMIT_PER_ADDRESS: '1000/1m',
      METRICS_ADDR: `127.0.0.1:${process.env.E2E_METRICS_PORT}`,
      SMTP_URL: `smtp://127.0.0.1:${process.env.E2E_SMTP_PORT}`,
    }),
    server('minimal', examplePort, '/', 'site-minimal', 'minimal.db', {}),
  ],
});

/** One of the suite's servers: a debug binary on its port with its own site and database. */
function server(binary: string, on: string, ready: string, site: string, db: string, extra: Record<string, string>) {
  return {
    command: path.join(targetDir, 'debug', binary),
    cwd: root,
    url: `http://127.0.0.1:${on}${ready}`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    gracefulShutdown: { signal: 'SIGTERM' as const, timeout: 5_000 },
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${on}`,
      LEPTOS_SITE_ROOT: path.join(root, 'target', site),
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_OUTPUT_NAME: 'app',
      LEPTOS_ENV: 'PROD',
      DATABASE_URL: `sqlite://${process.env.E2E_DATA_DIR}/${db}?mode=rwc`,
      JWT_SECRET: 'end-to-end-tests-only-secret-0123456789abcdef',
      ACCESS_TOKEN_TTL: process.env.E2E_ACCESS_TTL ?? '2s',
      RUST_LOG: 'warn',
      ...extra,
    },
  };
}
