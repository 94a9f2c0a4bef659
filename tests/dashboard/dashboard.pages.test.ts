import { describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp, subscribe, type TestUser } from "../helpers/users.js";
import { expectAccessible, useBrowser } from "./browser.js";
import { open, signIn, walkPages } from "./pages.js";

/**
 * Every page of the dashboard for a paid user with data (connections, posts, a key, a webhook, a template, a recurring
 * schedule, an invitation), each checked with axe-core (no serious or critical violation); and the phone-width layout.
 * The same pages without data: dashboard.pages-empty.test.ts.
 */
const t = useTestHome();
const b = useBrowser();

async function withData(): Promise<TestUser> {
  const user = await signUp(t);
  await subscribe(t, user, "starter");
  const profileId = await createProfile(t, user, "Busy brand");
  const who = { token: user.token };
  await connectAccount(t, who, "twitter", { profileId });
  const post = await t.call("POST", "/api/v1/post", { ...who, body: { profileId, platforms: ["twitter"], content: "Hello from the dashboard test" } });
  expect(post.status, JSON.stringify(post.body)).toBeLessThan(300);
  const at = new Date(Date.now() + 86_400_000).toISOString();
  const later = await t.call("POST", "/api/v1/post", { ...who, body: { profileId, platforms: ["twitter"], content: "Tomorrow's news", scheduleDate: at } });
  expect(later.status, JSON.stringify(later.body)).toBeLessThan(300);
  for (const [path, body] of [
    ["/api/api-keys", { name: "Page test key", profileId }],
    ["/api/webhook-endpoints", { profileId, url: "http://localhost:9/hook", events: ["*"] }],
    ["/api/v1/templates", { profileId, name: "Launch template", content: "Hello {{city}} on {{date}}" }],
    [
      "/api/v1/recurring-schedules",
      { profileId, name: "Weekly tips", content: "Tip of the week", platforms: ["twitter"], recurrencePattern: "weekly", recurrenceConfig: { day_of_week: 1 }, timeOfDay: "09:00", timezone: "UTC" },
    ],
    [`/api/v1/profiles/${profileId}/invitations`, { email: "teammate@example.com", role: "member" }],
  ] as const) {
    const res = await t.call("POST", path, { ...who, body });
    expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  }
  return user;
}

describe("dashboard: every page with data passes axe", () => {
  it("renders each page for a user with data", async () => {
    const busy = await withData();
    const context = await b.newContext();
    await walkPages(await context.newPage(), t.home.url, busy.email, "with data");
    await context.close();
  }, 150_000);

  it("works at phone width: the menu opens and the pages fit", async () => {
    const user = await signUp(t);
    await createProfile(t, user, "Phone brand");
    const context = await b.newContext({ phone: true });
    const page = await context.newPage();
    await signIn(page, t.home.url, user.email);
    for (const [path, heading] of [
      ["/app/compose", "Compose"],
      ["/app/calendar", "Calendar"],
      ["/app/billing", "Billing"],
    ] as const) {
      await open(page, t.home.url, path, heading);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${path} scrolls sideways by ${overflow}px`).toBeLessThanOrEqual(1);
    }
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Profiles", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Profiles" }).waitFor();
    await expectAccessible(page, "profiles at phone width");
    await context.close();
  }, 60_000);
});
