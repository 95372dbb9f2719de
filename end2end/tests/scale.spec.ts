import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as path from "node:path";

// The edges page with a fleet of thousands: counts per state, the failing ones found by the
// filter, two of them disabled at once, and one's recent results.

const root = path.resolve(__dirname, "../..");

test("an admin finds the failing nodes among 5 000 and disables two", async ({ page }) => {
  // 5 000 nodes nobody purged yet, beside the demo fleet (whose refusing and failing nodes
  // have failed every request of the journeys before).
  const csv = Array.from({ length: 5000 }, (_, i) => `10.${40 + Math.floor(i / 250)}.${Math.floor(i / 250) % 250}.${i % 250},80`).join("\n");
  execFileSync(path.join(root, "target/release/purger"), ["nodes", "import", "-", "--group", "big-fleet", "--protocol", "nginx"], {
    cwd: root,
    input: csv,
    env: { ...process.env, PURGER_DATA_DIR: process.env.PURGER_E2E_DATA_DIR ?? "/tmp/purger-e2e-data" },
  });

  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("admin-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("admin");

  await page.goto("/admin/edges");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  const never = Number((await page.getByTestId("count-never_purged").locator("strong").textContent())?.replace(/,/g, ""));
  expect(never).toBeGreaterThanOrEqual(5000);
  // One page at a time: a hundred rows, not five thousand.
  await expect(page.getByTestId("node")).toHaveCount(100);
  await expect(page.getByTestId("fleet-page")).toContainText("of 5");

  await page.getByTestId("fleet-state").selectOption("failing");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/state=failing/);
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  const rows = page.getByTestId("node");
  const failing = await rows.count();
  expect(failing).toBeGreaterThanOrEqual(2);
  await expect(page.locator("tr[data-testid='node']:not([data-state='failing'])")).toHaveCount(0);
  // The CLI, another process, lists the failing nodes from the health the server saved.
  const listed = JSON.parse(
    execFileSync(path.join(root, "target/release/purger"), ["--json", "nodes", "list", "--health", "failing"], {
      cwd: root,
      env: { ...process.env, PURGER_DATA_DIR: process.env.PURGER_E2E_DATA_DIR ?? "/tmp/purger-e2e-data" },
    }).toString(),
  );
  const listedFailing = listed.flatMap((g: { nodes: { health: string }[] }) => g.nodes);
  expect(listedFailing.length).toBeGreaterThanOrEqual(2);
  expect(listedFailing.every((n: { health: string }) => n.health === "failing")).toBe(true);
  // Health over time: the workers sampled the fleet when they started.
  await expect(page.getByTestId("chart-fleet").locator("rect").first()).toBeAttached();
  await expect(page.getByTestId("chart-fleet").locator("title").first()).toContainText("never purged");
  const disabledBefore = Number(await page.getByTestId("count-disabled").locator("strong").textContent());

  await rows.nth(0).getByTestId("node-addr").click();
  await expect(page.getByTestId("node-outcomes")).toContainText("✗");
  await page.getByRole("button", { name: "Close" }).click();

  await rows.nth(0).getByTestId("select-node").check();
  await rows.nth(1).getByTestId("select-node").check();
  await expect(page.getByTestId("selected-count")).toHaveText("2 selected");
  await page.getByTestId("disable-selected").click();
  await expect(rows).toHaveCount(failing - 2);
  await expect(page.getByTestId("count-disabled").locator("strong")).toHaveText(String(disabledBefore + 2));
  await page.screenshot({ path: path.join(root, "docs/screenshots/edges-failing.png"), fullPage: true });
});
