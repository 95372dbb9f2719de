import { expect, Page, test } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";

// What a person does in the dashboard, in order: a developer purges and watches, an admin
// manages, a second developer is kept out. Every page is saved as a screenshot for the README.
test.describe.configure({ mode: "serial" });

const shots = path.resolve(__dirname, "../../docs/screenshots");
fs.mkdirSync(shots, { recursive: true });

async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function signIn(page: Page, username: string, password: string) {
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("User name").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(username);
  // Signing in loads the next page afresh: wait until it is hydrated before using its forms.
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
}

async function varnish(request: import("@playwright/test").APIRequestContext, urlPath: string) {
  const port = process.env.PURGER_E2E_VARNISH_PORT;
  const response = await request.get(`http://127.0.0.1:${port}${urlPath}`, { headers: { Host: "cdn.example.com" } });
  return { cache: response.headers()["x-cache"], body: await response.text() };
}

let firstTaskUrl = "";

test("a wrong password is refused", async ({ page }) => {
  await page.goto("/login");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("User name").fill("demo");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("wrong user name or password");
  await shot(page, "login");
});

test("a developer purges a URL from real Varnish and watches it succeed", async ({ page, request }) => {
  const before = await varnish(request, "/e2e.png");
  const cached = await varnish(request, "/e2e.png");
  expect(cached.cache).toBe("HIT");
  expect(cached.body).toBe(before.body);

  await signIn(page, "demo", "demo-password-1");
  await expect(page.getByTestId("quota-url")).toContainText("left");
  await shot(page, "overview");

  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("box-url").fill("http://cdn.example.com/e2e.png\nhttp://nope.example.org/x\nnot a url");
  const inline = page.getByTestId("box-url").locator("..").getByTestId("verdict");
  await expect(inline).toHaveCount(3);
  await expect(inline.nth(0)).toContainText("on cdn.example.com");
  await expect(inline.nth(1)).toContainText("not one of your domains");
  await expect(inline.nth(2)).toContainText("not an absolute http(s) URL");
  await shot(page, "purge-validation");
  await page.getByTestId("submit-purge").click();
  const verdicts = page.getByTestId("verdicts").getByTestId("verdict");
  await expect(verdicts).toHaveCount(3);
  await expect(verdicts.nth(0)).toContainText("accepted");
  await expect(verdicts.nth(1)).toContainText("not_your_domain");
  await expect(verdicts.nth(2)).toContainText("invalid_target");
  await shot(page, "purge-result");

  await page.getByTestId("batch-link").click();
  await expect(page.getByTestId("task-status").first()).toHaveText("success", { timeout: 15_000 });
  await expect(page.getByTestId("progress-counts").first()).toHaveText("1 of 1 confirmed, 0 failed");
  await shot(page, "batch");

  const after = await varnish(request, "/e2e.png");
  expect(after.cache).toBe("MISS");
  expect(after.body).not.toBe(before.body);

  await page.getByRole("link", { name: "http://cdn.example.com/e2e.png" }).click();
  await expect(page.getByTestId("task-target")).toHaveText("http://cdn.example.com/e2e.png");
  firstTaskUrl = page.url();
});

test("a developer purges a cache tag, then everything on the domain only after typing it", async ({ page, request }) => {
  await varnish(request, "/xkey/tagged.html");
  expect((await varnish(request, "/xkey/tagged.html")).cache).toBe("HIT");
  await varnish(request, "/untagged.html");
  const untagged = await varnish(request, "/untagged.html");
  expect(untagged.cache).toBe("HIT");

  await signIn(page, "demo", "demo-password-1");
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("purge-domain").fill("cdn.example.com");
  await page.getByTestId("box-tag").fill("e2e-tag\ntwo words");
  const inline = page.getByTestId("box-tag").locator("..").getByTestId("verdict");
  await expect(inline).toHaveCount(2);
  await expect(inline.nth(0)).toContainText("on cdn.example.com");
  await expect(inline.nth(1)).toContainText("invalid cache tag");
  await page.getByTestId("box-tag").fill("e2e-tag");
  await expect(page.getByTestId("purge-groups")).toContainText("real-varnish");
  await shot(page, "purge-kinds");
  await page.getByTestId("submit-purge").click();
  const verdicts = page.getByTestId("verdicts").getByTestId("verdict");
  await expect(verdicts).toHaveCount(1);
  await expect(verdicts.nth(0)).toContainText("accepted");
  await page.getByTestId("batch-link").click();
  await expect(page.getByTestId("task-status").first()).toHaveText("success", { timeout: 15_000 });
  expect((await varnish(request, "/xkey/tagged.html")).cache).toBe("MISS");
  expect(await varnish(request, "/untagged.html")).toEqual(untagged);

  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("purge-domain").fill("cdn.example.com");
  await page.getByTestId("everything-start").click();
  const confirm = page.getByTestId("everything-submit");
  await expect(confirm).toBeDisabled();
  await page.getByTestId("everything-typed").fill("www.example.com");
  await expect(confirm).toBeDisabled();
  await page.getByTestId("everything-typed").fill("cdn.example.com");
  await expect(confirm).toBeEnabled();
  await shot(page, "purge-everything");
  await confirm.click();
  await expect(verdicts).toHaveCount(1);
  await expect(verdicts.nth(0)).toContainText("*");
  await expect(verdicts.nth(0)).toContainText("accepted");
  await page.getByTestId("batch-link").click();
  await expect(page.getByTestId("task-status").first()).toHaveText("success", { timeout: 15_000 });
  expect((await varnish(request, "/untagged.html")).cache).toBe("MISS");

  await page.goto("/tasks?kind=everything");
  await expect(page.getByTestId("task-kind").first()).toHaveText("everything");
});

test("live progress shows intermediate values against slow edges", async ({ page }) => {
  await signIn(page, "demo", "demo-password-1");
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("box-url").fill("http://slow.example.com/big.js");
  await page.getByTestId("submit-purge").click();
  await page.getByTestId("batch-link").click();
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  const counts = page.getByTestId("progress-counts").first();
  const seen = new Set<number>();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = (await counts.textContent()) ?? "";
    const done = Number(text.split(" ")[0]);
    if (!Number.isNaN(done)) seen.add(done);
    if (text.startsWith("20 of 20")) break;
    await page.waitForTimeout(25);
  }
  expect(seen.has(20), `seen ${[...seen]}`).toBe(true);
  expect([...seen].some((n) => n > 0 && n < 20), `an intermediate value among ${[...seen]}`).toBe(true);
  await expect(page.getByTestId("task-status").first()).toHaveText("success");
});

test("a failed task shows its nodes grouped by reason and can be retried", async ({ page }) => {
  await signIn(page, "demo", "demo-password-1");
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("box-url").fill("http://www.example.com/hello.gif");
  await page.getByTestId("submit-purge").click();
  await page.getByTestId("verdicts").getByRole("link", { name: "details" }).click();
  await expect(page.getByTestId("task-status")).toHaveText("failed", { timeout: 20_000 });
  const groups = page.getByTestId("failure-groups");
  await expect(groups).toContainText("connect_refused");
  await expect(groups).toContainText("503");
  await expect(groups).toContainText("timeout");
  await shot(page, "task-detail");
  await page.getByTestId("retry").click();
  await expect(page.getByTestId("task-status")).toHaveText(/running|failed/);
});

test("history filters tasks, shows URLs as text and exports CSV", async ({ page }) => {
  await signIn(page, "demo", "demo-password-1");
  let dialogs = 0;
  page.on("dialog", async (dialog) => {
    dialogs += 1;
    await dialog.dismiss();
  });
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  const hostile = "http://cdn.example.com/<script>alert(1)</script>.js";
  await page.getByTestId("box-url").fill(hostile);
  await page.getByTestId("submit-purge").click();
  await expect(page.getByTestId("verdicts").getByTestId("verdict")).toContainText("accepted");

  await page.goto("/tasks?text=script");
  await expect(page.getByTestId("task-row")).toHaveCount(1);
  await expect(page.getByTestId("task-row")).toContainText(hostile);
  expect(dialogs).toBe(0);
  await page.goto("/tasks");
  await expect(page.getByTestId("task-row").first()).toBeVisible();
  await shot(page, "tasks");
  const csv = await page.request.get("/export/tasks.csv?domain=cdn.example.com");
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toBe("id,batch_id,user,kind,target,status,total,success,failed,created_at,started_at,finished_at,domain,mode,groups");
  // The URL purge, the tag, everything and the hostile URL of cdn.example.com.
  expect(lines.length).toBe(5);
});

test("a developer prefetches a URL for the first visitor, then purges it verified", async ({ page, request }) => {
  await signIn(page, "demo", "demo-password-1");
  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("box-prefetch").fill("http://cdn.example.com/warm.html");
  await page.getByTestId("submit-prefetch").click();
  const prefetched = page.getByTestId("prefetch-verdicts").getByTestId("verdict");
  await expect(prefetched).toHaveCount(1);
  await expect(prefetched.nth(0)).toContainText("accepted");
  await page.getByRole("link", { name: "Watch the prefetch live" }).click();
  await expect(page.getByTestId("task-status").first()).toHaveText("success", { timeout: 15_000 });
  const first = await varnish(request, "/warm.html");
  expect(first.cache).toBe("HIT");

  await page.goto("/purge");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("box-url").fill("http://cdn.example.com/warm.html");
  await page.getByTestId("verify").check();
  await page.getByTestId("prefetch-after").check();
  await page.getByTestId("submit-purge").click();
  await expect(page.getByTestId("verdicts").getByTestId("verdict").nth(0)).toContainText("accepted");
  await page.getByTestId("batch-link").click();
  await expect(page.getByTestId("task-status").first()).toHaveText("success", { timeout: 15_000 });
  await page.getByRole("link", { name: "http://cdn.example.com/warm.html" }).click();
  await expect(page.getByTestId("task-kind")).toContainText("verified");
  await expect(page.getByTestId("verification")).toContainText("1 confirmed with a fresh copy, 0 without an Age");
  await expect(page.getByTestId("prefetched")).toHaveText("Prefetched again on 1 of 1 nodes");
  await expect(page.getByTestId("node-results")).toContainText("confirmed, verified, prefetched");
  await shot(page, "task-verified");
  const after = await varnish(request, "/warm.html");
  expect(after.cache).toBe("HIT");
  expect(after.body).not.toBe(first.body);
});

test("a developer makes a read-only key for one domain, and the API holds it to that", async ({ page, request }) => {
  await signIn(page, "demo", "demo-password-1");
  await page.goto("/keys");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("Label").fill("e2e read-only key");
  await page.getByLabel("Only these domains").fill("www.example.com");
  await page.getByTestId("key-read-only").check();
  await page.getByTestId("create-key").click();
  const secret = await page.getByTestId("new-key-secret").textContent();
  const row = page
    .getByTestId("key-row")
    .filter({ has: page.getByRole("cell", { name: "e2e read-only key", exact: true }) });
  await expect(row.getByTestId("key-limits")).toHaveText("read-only; domains: www.example.com");
  const auth = { Authorization: `Bearer ${secret}` };
  expect((await page.request.get("/api/v1/quota", { headers: auth })).status()).toBe(200);
  // An API client of its own: the page's session cookie would make this a cross-site form post.
  const purge = await request.post("/api/v1/purges", {
    headers: auth,
    data: { urls: ["http://www.example.com/e2e-read-only.png"] },
  });
  expect(purge.status()).toBe(403);
  expect((await purge.json()).code).toBe("key_read_only");
  await row.getByTestId("revoke-key").click();
  await expect(row).toContainText("revoked");
});

test("a developer creates, sees once and revokes an API key", async ({ page }) => {
  await signIn(page, "demo", "demo-password-1");
  await page.goto("/keys");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByLabel("Label").fill("e2e deploy key");
  await page.getByTestId("create-key").click();
  const secret = await page.getByTestId("new-key-secret").textContent();
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await expect(page.getByTestId("example-000")).toContainText(`api_key=${secret}`);
  await expect(page.getByTestId("example-004")).toContainText("openssl dgst -sha1 -hmac");
  await expect(page.getByTestId("example-v1")).toContainText(`Bearer ${secret}`);
  // The row whose label cell is exactly this one (a key id of random hex may contain "e2e").
  const row = page
    .getByTestId("key-row")
    .filter({ has: page.getByRole("cell", { name: "e2e deploy key", exact: true }) });
  await expect(row).toContainText("active");
  await shot(page, "keys");
  // The key works against the v1 API, then stops working once revoked.
  const ok = await page.request.get("/api/v1/quota", { headers: { Authorization: `Bearer ${secret}` } });
  expect(ok.status()).toBe(200);
  await row.getByTestId("revoke-key").click();
  await expect(row).toContainText("revoked");
  await page.reload();
  await expect(page.getByTestId("new-key-secret")).toHaveCount(0);
  const refused = await page.request.get("/api/v1/quota", { headers: { Authorization: `Bearer ${secret}` } });
  expect(refused.status()).toBe(401);
});

test("an admin creates a user, sets a quota, imports nodes and disables one", async ({ page }) => {
  await signIn(page, "admin", "admin-password-1");
  await page.goto("/admin/users");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("new-username").fill("dev2");
  await page.getByTestId("new-password").fill("dev2-password");
  await page.getByTestId("create-user").click();
  const row = page.getByTestId("user-dev2");
  await expect(row).toBeVisible();
  await row.getByTestId("quota-url").fill("42");
  await row.getByTestId("save-quota").click();
  await page.reload();
  await expect(page.getByTestId("user-dev2").getByTestId("quota-url")).toHaveValue("42");
  await shot(page, "admin-users");

  await page.goto("/admin/edges");
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
  await page.getByTestId("import-group").fill("e2e-group");
  await page.getByTestId("import-csv").fill("10.9.0.1,80\n10.9.0.2,8080\nbogus");
  await page.getByTestId("import-nodes").click();
  await expect(page.getByTestId("import-summary")).toContainText("2 added, 0 updated, 1 refused");
  const group = page.getByTestId("group-e2e-group");
  await expect(group.getByTestId("node")).toHaveCount(2);
  await group.getByTestId("toggle-node").first().click();
  await expect(group.getByTestId("node").first()).toHaveClass(/off/);
  await shot(page, "admin-edges");

  // Health from recent results: the demo fleet's refusing and failing nodes have failed every
  // request so far, the others confirmed theirs.
  const demo = page.getByTestId("group-demo-edges");
  const failing = demo.locator("tr[data-state='failing']");
  await expect(failing.first()).toContainText("100% of the last");
  await expect(failing.first().getByTestId("node-health")).toHaveText("failing");
  await expect(demo.locator("tr[data-state='healthy']").first()).toBeVisible();
  await page.goto("/admin/domains");
  await expect(page.getByRole("cell", { name: "cdn.example.com" })).toBeVisible();
  await shot(page, "admin-domains");
  await page.goto("/admin/audit?action=node.");
  await expect(page.getByTestId("audit-table")).toContainText("node.disable");
  await shot(page, "admin-audit");
});

test("a second developer is refused the first one's task page", async ({ page }) => {
  expect(firstTaskUrl).toContain("/tasks/");
  await signIn(page, "dev2", "dev2-password");
  // Their own password first: the wrong current one is refused, the right one changes it.
  await page.getByTestId("current-password").fill("not-it-at-all");
  await page.getByTestId("new-password").fill("dev2-password-new");
  await page.getByTestId("change-password").click();
  await expect(page.getByTestId("password-result")).toHaveText("the current password is wrong");
  await page.getByTestId("current-password").fill("dev2-password");
  await page.getByTestId("change-password").click();
  await expect(page.getByTestId("password-result")).toHaveText("Password changed.");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, "dev2", "dev2-password-new");
  await page.goto(firstTaskUrl);
  await expect(page.getByTestId("task-error")).toHaveText("task not found");
  await page.goto("/admin/users");
  await expect(page.getByRole("heading", { name: "Admins only" })).toBeVisible();
});
