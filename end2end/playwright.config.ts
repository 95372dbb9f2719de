import { defineConfig } from "@playwright/test";

// The suite runs against a release build of `purger` that it starts itself, on a fresh data
// directory, in Debian's Chromium (`npx playwright install` cannot work on these machines).
const port = Number(process.env.PURGER_E2E_PORT ?? 3391);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = process.env.PURGER_E2E_DATA_DIR ?? "/tmp/purger-e2e-data";
// The demo's simulated edges listen on this port and the next 49 (two suites on one machine
// need two ranges).
const demoEdgePort = Number(process.env.PURGER_E2E_DEMO_EDGE_PORT ?? 18700);

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  // No retries: a test that fails, fails the run. (Pages whose user was one resource read
  // under two <Transition>s were seen to stall before their <main> arrived, three times in six
  // runs; the user is now known before the page renders, see app/src/components/guard.rs.)
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `rm -rf ${dataDir} && target/release/purger serve --demo --demo-edge-port ${demoEdgePort}`,
    cwd: "..",
    url: `${baseURL}/healthz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      PURGER_ADDR: `127.0.0.1:${port}`,
      PURGER_DATA_DIR: dataDir,
      PURGER_LOG__FORMAT: "json",
      PURGER_DEMO_ADMIN_PASSWORD: "admin-password-1",
      PURGER_DEMO_PASSWORD: "demo-password-1",
      PURGER_FANOUT__REQUEST_TIMEOUT_MS: "500",
      PURGER_FANOUT__BACKOFF_BASE_MS: "50",
    },
  },
});
