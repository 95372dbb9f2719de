import { expect, test } from "@playwright/test";

test("the server renders the page shell", async ({ request }) => {
  const response = await request.get("/login");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain('<a class="brand" href="/">Purger</a>');
  expect(html).toContain("Check database");
  expect(html).toMatch(/Purger \d+\.\d+\.\d+/);
  // The database status is only fetched by the hydrated page, never rendered on the server.
  expect(html).not.toContain("schema version");
  // Security headers on every page.
  expect(response.headers()["x-content-type-options"]).toBe("nosniff");
  expect(response.headers()["x-frame-options"]).toBe("DENY");
});

test("a hydrated click reads the schema version through a server function", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  const status = page.getByTestId("database-status");
  await expect(status).toHaveText("");
  await page.getByTestId("check-database").click();
  await expect(status).toHaveText(/^Database ready, schema version \d+$/);
  expect(errors).toEqual([]);
});

test("an unknown path shows the not-found page", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("pages that need a user send strangers to the sign-in page", async ({ page }) => {
  await page.goto("/tasks");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
});
