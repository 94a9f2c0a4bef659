import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { chromium } from "playwright-core";
import { ensureDashboardBuilt } from "../src/local/dashboard.js";
import { startLocalHome } from "../src/local/home.js";

/**
 * `npm run screenshots`: starts a throwaway local home (its own data directory and embedded Postgres), fills it with a
 * paid user, a profile, two connected accounts, posts, a key, a webhook, a template, a recurring schedule and a
 * teammate invitation through the API, then writes PNGs of the main dashboard pages to docs/screenshots/ with Debian's
 * Chromium (/usr/bin/chromium, or CHROMIUM_PATH).
 */
const outDir = path.resolve("docs/screenshots");
const dataDir = await mkdtemp(path.join(os.tmpdir(), "amplify-screenshots-"));
const email = "alex@example.com";
const password = "correct horse battery";

await ensureDashboardBuilt((line) => console.log(line));
const home = await startLocalHome({ dataDir, port: 0 });
const sql = postgres(home.databaseUrl, { max: 1, onnotice: () => {} });
try {
  const call = async (method: string, p: string, token: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(new URL(p, home.url), {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => null)) as any;
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return { json, headers: res.headers };
  };
  const signup = await fetch(`${home.url}/auth/v1/signup`, {
    method: "POST",
    headers: { apikey: home.anonKey, "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const session = (await signup.json()) as { access_token: string; user: { id: string } };
  const token = session.access_token;
  await sql`update public.billing_subscriptions set plan = 'growth', status = 'active' where user_id = ${session.user.id}`;
  const profile = (await call("POST", "/api/v1/profiles", token, { name: "Northwind Coffee", timezone: "Europe/London" })).json.profile;
  const profileId = profile.id as string;

  for (const platform of ["twitter", "linkedin", "threads"]) {
    const init = await call("POST", "/api/v1/connect/init", token, { platform, profileId, returnUrl: `${home.url}/app/connections` });
    const consent = await fetch(init.json.url, { redirect: "manual" });
    const cookie = init.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    await fetch(consent.headers.get("location")!, { redirect: "manual", headers: cookie ? { cookie } : {} });
  }
  const texts = [
    "Our autumn blend is back: notes of toffee and orange. Find it in every shop from today.",
    "Latte art Friday: share yours with #NorthwindPour",
    "We are hiring baristas in Leeds and York. Apply at https://example.com/jobs",
  ];
  for (const content of texts) await call("POST", "/api/v1/post", token, { profileId, platforms: ["twitter", "linkedin"], content });
  for (const [i, content] of ["New single-origin from Huila, Colombia lands next week.", "Weekend opening hours are changing in December."].entries()) {
    const at = new Date(Date.now() + (i + 2) * 86_400_000).toISOString();
    await call("POST", "/api/v1/post", token, { profileId, platforms: ["twitter", "linkedin", "threads"], content, scheduleDate: at });
  }
  await call("POST", "/api/api-keys", token, { name: "Website CMS", profileId });
  await call("POST", "/api/webhook-endpoints", token, { profileId, url: "http://localhost:3000/webhook", events: ["post.published", "post.failed"] });
  await call("POST", "/api/v1/templates", token, { profileId, name: "Weekly special", content: "This week at {{shop}}: {{special}}. See you on {{weekday}}!" });
  await call("POST", "/api/v1/recurring-schedules", token, {
    profileId,
    name: "Monday tips",
    content: "Brewing tip of the week: rinse your paper filter first.",
    platforms: ["twitter", "linkedin"],
    recurrencePattern: "weekly",
    recurrenceConfig: { day_of_week: 1 },
    timeOfDay: "08:30",
    timezone: "Europe/London",
  });
  await call("POST", `/api/v1/profiles/${profileId}/invitations`, token, { email: "sam@example.com", role: "admin" });

  await mkdir(outDir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1, timezoneId: "Europe/London" });
  const page = await context.newPage();
  await page.goto(`${home.url}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  const shots: [string, string][] = [
    ["overview", "/"],
    ["compose", "/app/compose"],
    ["calendar", "/app/calendar"],
    ["posts", "/app/posts"],
    ["connections", "/app/connections"],
    ["recurring", "/app/recurring"],
    ["team", "/app/team"],
    ["api-keys", "/app/api-keys"],
    ["billing", "/app/billing"],
    ["logs", "/app/logs"],
  ];
  for (const [name, p] of shots) {
    await page.goto(`${home.url}${p}`);
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    await page.waitForFunction(() => document.querySelectorAll(".loading").length === 0);
    if (name === "compose") await page.getByLabel("Post text").fill("Our autumn blend is back: notes of toffee and orange. Ask for a taste in any shop this week.");
    await page.waitForTimeout(150);
    await page.screenshot({ path: path.join(outDir, `${name}.png`) });
    console.log(`wrote docs/screenshots/${name}.png`);
  }
  const phone = await browser.newContext({ viewport: { width: 390, height: 780 }, isMobile: true, deviceScaleFactor: 1, timezoneId: "Europe/London" });
  await phone.addCookies([]);
  const phonePage = await phone.newPage();
  await phonePage.goto(`${home.url}/signin`);
  await phonePage.getByLabel("Email").fill(email);
  await phonePage.getByLabel("Password").fill(password);
  await phonePage.getByRole("button", { name: "Sign in" }).click();
  await phonePage.getByRole("heading", { name: "Overview" }).waitFor();
  await phonePage.goto(`${home.url}/app/calendar`);
  await phonePage.waitForFunction(() => document.querySelectorAll(".loading").length === 0);
  await phonePage.screenshot({ path: path.join(outDir, "calendar-phone.png") });
  console.log("wrote docs/screenshots/calendar-phone.png");
  await browser.close();
} finally {
  await sql.end({ timeout: 5 });
  await home.stop();
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0);
