import { expect, Page, test } from "@playwright/test";
import * as path from "node:path";
import * as zlib from "node:zlib";

// What the first pages weigh and how they look in the dark, in both languages.

const shots = path.resolve(__dirname, "../../docs/screenshots");
// The pages are lazy routes split out of the main module (app/src/routes.rs): the sign-in page
// and the overview fetch ~381 KB gzipped (docs/benchmarks.md; one bundle was ~726 KB); the
// issue's goal is 300 KB. This budget catches a regression.
const budget = 400_000;

/** `gzip -9` of each distinct .wasm the page fetches from now on, and how many loads. */
function wasmBytes(page: Page): { sizes: Map<string, number>; loads: number; reading: Promise<void>[] } {
  const seen = { sizes: new Map<string, number>(), loads: 0, reading: [] as Promise<void>[] };
  page.on("response", (response) => {
    if (!response.url().endsWith(".wasm")) return;
    seen.loads += 1;
    seen.reading.push(
      response.body().then((body) => {
        seen.sizes.set(new URL(response.url()).pathname, zlib.gzipSync(body, { level: 9 }).length);
      }),
    );
  });
  return seen;
}

test("the sign-in page and the overview fetch their WASM modules within the budget", async ({ page }) => {
  const seen = wasmBytes(page);
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("User name").fill("demo");
  await page.getByLabel("Password").fill("demo-password-1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText("demo");
  await expect(page.getByTestId("chart-kinds")).toBeAttached();
  await page.waitForLoadState("networkidle");
  // The main module and the parts of both pages (a second load of one may come from the cache).
  await Promise.all(seen.reading);
  const total = [...seen.sizes.values()].reduce((a, b) => a + b, 0);
  const main = seen.sizes.get("/pkg/purger.wasm");
  test.info().annotations.push({
    type: "wasm gzip -9 bytes",
    description: `${total} in ${seen.sizes.size} modules (main ${main}); ${seen.loads} loads`,
  });
  expect(seen.sizes.size).toBeGreaterThan(0);
  expect(total).toBeLessThanOrEqual(budget);
});

for (const locale of ["zh-CN", "en-US"]) {
  test.describe(`dark, in ${locale}`, () => {
    test.use({ locale, colorScheme: "dark" });

    test(`the dark theme reads in ${locale}`, async ({ page }) => {
      await page.goto("/login");
      await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
      await page.locator("#username").fill("demo");
      await page.locator("#password").fill("demo-password-1");
      await page.locator("form button[type=submit]").click();
      await expect(page.getByTestId("signed-in-as")).toHaveText("demo");
      for (const route of ["/", "/purge", "/tasks"]) {
        await page.goto(route);
        await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
        const [background, text] = await page.evaluate(() => {
          const style = getComputedStyle(document.body);
          return [style.backgroundColor, style.color];
        });
        // Dark background, light text: the sum of the channels tells them apart.
        const sum = (rgb: string) => (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((a, b) => a + Number(b), 0);
        expect(sum(background), `${route} background ${background}`).toBeLessThan(150);
        expect(sum(text), `${route} text ${text}`).toBeGreaterThan(500);
      }
      await page.goto("/");
      await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
      await page.screenshot({ path: path.join(shots, `overview-dark-${locale}.png`), fullPage: true });
    });
  });
}
