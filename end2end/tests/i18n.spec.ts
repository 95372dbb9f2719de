import { expect, Page, test } from "@playwright/test";
import * as path from "node:path";

// The main journey (sign in, purge, watch it live, open the task, retry, create a key, the admin
// pages) in each language, as a browser set to it asks: translated words on every page, failure
// reason keys as they are, and not one console error.

const shots = path.resolve(__dirname, "../../docs/screenshots");

type Words = {
  locale: string;
  lang: string;
  signIn: string;
  userName: string;
  password: string;
  overview: string;
  purge: string;
  accepted: string;
  batch: string;
  failed: string;
  task: string;
  retry: string;
  keys: string;
  label: string;
  copyNow: string;
  signOut: string;
  users: string;
  domains: string;
  edges: string;
  failing: string;
  fleetHealth: string;
  audit: string;
  succeeded: string;
};

const languages: Words[] = [
  {
    locale: "zh-CN", lang: "zh-CN", signIn: "登录", userName: "用户名", password: "密码",
    overview: "概览", purge: "刷新", accepted: "已受理", batch: "批次", failed: "失败", task: "任务",
    retry: "重试失败的节点", keys: "API 密钥", label: "标签", copyNow: "请立即复制此密钥",
    signOut: "退出登录", users: "用户", domains: "域名", edges: "边缘节点", failing: "故障",
    fleetHealth: "最近 24 小时节点健康状况", audit: "审计日志",
    succeeded: "% 成功",
  },
  {
    locale: "en-US", lang: "en", signIn: "Sign in", userName: "User name", password: "Password",
    overview: "Overview", purge: "Purge", accepted: "accepted", batch: "Batch", failed: "failed",
    task: "Task", retry: "Retry failed nodes", keys: "API keys", label: "Label",
    copyNow: "Copy this key now", signOut: "Sign out", users: "Users", domains: "Domains",
    edges: "Edges", failing: "failing", fleetHealth: "Node health over the last 24 hours",
    audit: "Audit log", succeeded: "% of",
  },
];

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  return errors;
}

async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated='true']")).toBeAttached();
}

async function signIn(page: Page, w: Words, username: string, password: string) {
  await page.goto("/login");
  await hydrated(page);
  await expect(page.locator("html")).toHaveAttribute("lang", w.lang);
  await expect(page.getByRole("heading", { name: w.signIn })).toBeVisible();
  await page.getByLabel(w.userName, { exact: true }).fill(username);
  await page.getByLabel(w.password, { exact: true }).fill(password);
  await page.getByRole("button", { name: w.signIn }).click();
  await expect(page.getByTestId("signed-in-as")).toHaveText(username);
  await hydrated(page);
}

for (const w of languages) {
  test.describe(`in ${w.locale}`, () => {
    test.use({ locale: w.locale });

    test(`the main journey reads in ${w.locale}`, async ({ page }) => {
      const errors = watchConsole(page);
      await signIn(page, w, "demo", "demo-password-1");
      await expect(page.getByRole("heading", { name: w.overview, exact: true })).toBeVisible();
      // The charts are SVG from the server: bars of the journeys before, and a success rate.
      await expect(page.getByTestId("chart-kinds").locator("rect").first()).toBeAttached();
      await expect(page.getByTestId("chart-success-summary")).toContainText(w.succeeded);

      await page.goto("/purge");
      await hydrated(page);
      await expect(page.getByRole("heading", { name: w.purge, exact: true })).toBeVisible();
      await page.getByTestId("box-url").fill(`http://www.example.com/${w.lang}.gif`);
      await page.getByTestId("submit-purge").click();
      await expect(page.getByTestId("verdicts").getByTestId("verdict")).toContainText(w.accepted);
      await page.getByTestId("batch-link").click();
      await expect(page.getByRole("heading", { name: w.batch })).toBeVisible();
      const status = page.getByTestId("task-status").first();
      await expect(status).toHaveAttribute("data-status", "failed", { timeout: 20_000 });
      await expect(status).toHaveText(w.failed);

      await page.getByRole("link", { name: `http://www.example.com/${w.lang}.gif` }).click();
      await expect(page.getByRole("heading", { name: w.task, exact: true })).toBeVisible();
      // Reason keys stay as they are in every language.
      await expect(page.getByTestId("failure-groups")).toContainText("connect_refused");
      await hydrated(page);
      await page.getByRole("button", { name: w.retry }).click();
      await expect(page.getByTestId("task-status")).toHaveAttribute("data-status", /running|failed/);

      await page.goto("/keys");
      await hydrated(page);
      await expect(page.getByRole("heading", { name: w.keys })).toBeVisible();
      await page.getByLabel(w.label, { exact: true }).fill(`key ${w.lang}`);
      await page.getByTestId("create-key").click();
      await expect(page.getByTestId("new-key")).toContainText(w.copyNow);
      await page.getByRole("button", { name: w.signOut }).click();
      await expect(page).toHaveURL(/\/login$/);
      // Signing out navigates once more; let it settle before going on.
      await page.waitForLoadState("networkidle");

      await signIn(page, w, "admin", "admin-password-1");
      for (const [route, heading] of [
        ["/admin/users", w.users],
        ["/admin/domains", w.domains],
        ["/admin/edges", w.edges],
        ["/admin/audit", w.audit],
      ]) {
        await page.goto(route);
        await hydrated(page);
        await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
      }
      await page.goto("/admin/edges");
      await expect(page.getByTestId("count-failing")).toContainText(w.failing);
      await expect(page.getByRole("heading", { name: w.fleetHealth })).toBeVisible();
      await page.screenshot({ path: path.join(shots, `edges-${w.lang}.png`), fullPage: false });
      await page.goto("/");
      await hydrated(page);
      await page.screenshot({ path: path.join(shots, `overview-${w.lang}.png`), fullPage: true });
      expect(errors).toEqual([]);
    });
  });
}

test("the language chosen is saved for the user and follows them to another browser", async ({ browser }) => {
  const first = await browser.newContext({ locale: "en-US" });
  const page = await first.newPage();
  const en = languages[1];
  await signIn(page, en, "demo", "demo-password-1");
  await page.getByTestId("language-zh-CN").click();
  await expect(page.getByRole("heading", { name: "概览" })).toBeVisible();
  await first.close();

  // A browser that asks for English gets the saved Chinese once the user signs in.
  const second = await browser.newContext({ locale: "en-US" });
  const other = await second.newPage();
  await signIn(other, en, "demo", "demo-password-1");
  await expect(other.locator("html")).toHaveAttribute("lang", "zh-CN");
  await expect(other.getByRole("heading", { name: "概览" })).toBeVisible();
  await other.getByTestId("language-en").click();
  await expect(other.getByRole("heading", { name: "Overview" })).toBeVisible();
  await second.close();
});
