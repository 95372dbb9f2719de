import { expect, Page, test } from "@playwright/test";
import * as path from "node:path";

// The layout holds on a phone and does not jump when the page hydrates.

const shots = path.resolve(__dirname, "../../docs/screenshots");

async function signIn(page: Page) {
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("User name").fill("demo");
  await page.getByLabel("Password").fill("demo-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("demo");
}

/** Cumulative layout shift since the page started loading (shifts right after input excluded). */
async function layoutShift(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        let total = 0;
        new PerformanceObserver((list) => {
          for (const entry of list.getEntries() as any[]) {
            if (!entry.hadRecentInput) total += entry.value;
          }
        }).observe({ type: "layout-shift", buffered: true });
        setTimeout(() => resolve(total), 500);
      }),
  );
}

test("pages fit a phone's width and stay usable", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await signIn(page);
  for (const [route, name] of [
    ["/", "phone-overview"],
    ["/purge", "phone-purge"],
    ["/tasks", "phone-tasks"],
    ["/keys", "phone-keys"],
  ]) {
    await page.goto(route);
    await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `${route} scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  }
  // The purge form is usable there: type, see the line verdict.
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("URLs", { exact: true }).fill("not a url");
  const verdict = page.getByTestId("verdict").first();
  await expect(verdict).toBeVisible();
  await expect(verdict).toContainText("not an absolute http(s) URL");
  const box = await verdict.boundingBox();
  expect(box && box.x + box.width).toBeLessThanOrEqual(375);
});

test("hydration does not shift the layout", async ({ page }) => {
  await signIn(page);
  for (const route of ["/login", "/", "/purge", "/tasks"]) {
    await page.goto(route);
    await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
    const shift = await layoutShift(page);
    expect(shift, `cumulative layout shift of ${route}`).toBeLessThan(0.05);
  }
});
