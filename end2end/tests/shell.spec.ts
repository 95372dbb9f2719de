import { expect, test } from "@playwright/test";

test("the server renders the page shell", async ({ request }) => {
  const response = await request.get("/login");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain('<a class="brand" href="/">Purger</a>');
  expect(html).toMatch(/Purger \d+\.\d+\.\d+/);
  // No developer tools in the product's footer; an icon, so no console error for it.
  expect(html).not.toContain("Check database");
  expect(html).toContain('rel="icon"');
  const icon = await request.get("/favicon.ico");
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toBe("image/svg+xml");
  // Security headers on every page.
  expect(response.headers()["x-content-type-options"]).toBe("nosniff");
  expect(response.headers()["x-frame-options"]).toBe("DENY");
  expect(response.headers()["referrer-policy"]).toBe("same-origin");
  // Scripts run only through this response's nonce; nothing may frame the page.
  const csp = response.headers()["content-security-policy"] ?? "";
  const nonce = csp.match(/'nonce-([^']+)'/)?.[1];
  expect(nonce, csp).toBeTruthy();
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain("'unsafe-inline' 'unsafe-eval'");
  const scripts = [...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]);
  expect(scripts.length).toBeGreaterThan(0);
  for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
});

test("an inline script injected into a page is blocked by the policy", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  // What a stored XSS would do: add a script without the nonce. The page's policy refuses it.
  const ran = await page.evaluate(async () => {
    (window as any).injected = false;
    const script = document.createElement("script");
    script.textContent = "window.injected = true";
    document.body.appendChild(script);
    await new Promise((resolve) => setTimeout(resolve, 100));
    return (window as any).injected;
  });
  expect(ran).toBe(false);
  expect(violations.length).toBeGreaterThan(0);
});

test("a hydrated click chooses the language through a server function", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  // Only the hydrated page can run the click: the server function sets the cookie, the page
  // loads again in Chinese (rendered so by the server, then hydrated without a mismatch).
  await page.getByTestId("language-zh-CN").click();
  await expect(page.getByRole("heading", { name: "登录" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await expect(page.getByLabel("用户名")).toBeVisible();
  await page.getByTestId("language-en").click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
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
