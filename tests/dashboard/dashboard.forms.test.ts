import type { Page } from "playwright-core";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp, subscribe, type TestUser } from "../helpers/users.js";
import { seeText, useBrowser, watchErrors } from "./browser.js";
import { open, signIn } from "./pages.js";

/**
 * The dashboard's settings forms driven in a real browser (API keys, webhooks, profile settings, team invitations),
 * each checked by its effect through the API (the key works, a revoked key is refused, the endpoint is saved, the
 * invitation mail is in the local mailbox) and, for bad input the browser lets through, by the form showing the API's
 * own error message (the same words the API answers the same request with).
 */
const t = useTestHome();
const b = useBrowser();

/** The alert a form shows after a refused submit. */
const alertIn = (page: Page, form: string) => page.locator(form).getByRole("alert");

/** What the API answers `user` for a request the form is about to send (to compare the form's message with). */
async function apiRefusal(user: TestUser, path: string, body: unknown): Promise<string> {
  const res = await t.call("POST", path, { token: user.token, body });
  expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
  expect(typeof res.body.error, JSON.stringify(res.body)).toBe("string"); // the contract's envelope: { success: false, error, code }
  return res.body.error as string;
}

describe("dashboard: the settings forms do what they say, and show the API's errors", () => {
  it("creates an API key that works, revokes it so it is refused; saves a webhook endpoint; renames the profile; invites a teammate by mail", async () => {
    const user = await signUp(t);
    await subscribe(t, user, "starter");
    const profileId = await createProfile(t, user, "Forms brand");
    const context = await b.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, t.home.url, user.email);

    // API keys: created (shown once), usable on the API, then revoked and refused.
    await open(page, t.home.url, "/app/api-keys", "API keys");
    await page.getByLabel("Key name").fill("Forms key");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = await page.getByRole("textbox", { name: "New API key" }).inputValue();
    expect(key).toMatch(/^ak_/);
    const withKey = await t.call("GET", "/api/v1/connections", { apiKey: key });
    expect(withKey.status, JSON.stringify(withKey.body)).toBe(200);
    await page.getByRole("button", { name: "I saved it" }).click();
    await page.getByRole("button", { name: "Revoke Forms key" }).click();
    await page.getByRole("group", { name: "Confirm" }).getByRole("button", { name: "Confirm" }).click();
    await seeText(page.locator(".item", { hasText: "Forms key" }), "revoked");
    const refused = await t.call("GET", "/api/v1/connections", { apiKey: key });
    expect(refused.status).toBe(401);

    // Webhooks: an endpoint for all events is saved; an address the API refuses shows the API's reason in the form.
    await open(page, t.home.url, "/app/webhooks", "Webhooks");
    const hook = "http://localhost:9/forms-hook";
    await page.getByLabel("Endpoint URL").fill(hook);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    expect(await page.getByRole("textbox", { name: "Signing secret" }).inputValue()).not.toBe("");
    const endpoints = await t.call("GET", `/api/webhook-endpoints?profileId=${profileId}`, { token: user.token });
    expect(endpoints.status).toBe(200);
    expect(endpoints.body.endpoints).toEqual([expect.objectContaining({ url: hook, events: ["*"], is_active: true })]);
    await page.getByRole("button", { name: "I saved it" }).click();
    const internal = "https://169.254.169.254/latest/meta-data";
    const hookError = await apiRefusal(user, "/api/webhook-endpoints", { profileId, url: internal, events: ["*"] });
    await page.getByLabel("Endpoint URL").fill(internal);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await seeText(alertIn(page, "form.card"), hookError);
    const after = await t.call("GET", `/api/webhook-endpoints?profileId=${profileId}`, { token: user.token });
    expect(after.body.endpoints.map((e: { url: string }) => e.url)).toEqual([hook]);

    // Profile settings: renamed and moved to another time zone.
    await open(page, t.home.url, "/app/profiles", "Profiles");
    await page.locator(".item", { hasText: "Forms brand" }).getByRole("button", { name: "Rename" }).click();
    const row = page.locator("li.item form.inline-form"); // the row's settings form (its text is now in the inputs)
    await row.getByLabel("Name", { exact: true }).fill("Forms brand renamed");
    await row.getByLabel("Time zone").selectOption("Europe/Paris");
    await row.getByRole("button", { name: "Save" }).click();
    await page.locator(".item", { hasText: "Forms brand renamed" }).getByText("Europe/Paris").waitFor();
    const profiles = await t.call("GET", "/api/v1/profiles", { token: user.token });
    expect(profiles.body.profiles).toEqual([expect.objectContaining({ id: profileId, name: "Forms brand renamed", timezone: "Europe/Paris" })]);

    // Team: an invitation is mailed with its link; inviting someone the API refuses shows the API's reason.
    await open(page, t.home.url, "/app/team", "Team");
    const mate = `mate-${randomBytes(4).toString("hex")}@example.com`;
    await page.getByLabel("Email").fill(mate);
    await page.getByRole("button", { name: "Send invitation" }).click();
    const inviteUrl = await page.locator("[data-invite-url]").getAttribute("href");
    expect(inviteUrl).toMatch(/\/invite\/[A-Za-z0-9_-]{43}$/);
    await expect
      .poll(async () => (await t.http(`/_local/mailbox/messages?to=${encodeURIComponent(mate)}`)).body.messages.map((m: { text: string }) => m.text.includes(inviteUrl!)))
      .toEqual([true]);
    // The owner inviting themselves (a member already).
    const inviteError = await apiRefusal(user, `/api/v1/profiles/${profileId}/invitations`, { email: user.email, role: "member" });
    await page.getByLabel("Email").fill(user.email);
    await page.getByRole("button", { name: "Send invitation" }).click();
    await seeText(alertIn(page, "form.card"), inviteError);

    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("on the free plan, the API key form shows the API's refusal and no key is made", async () => {
    const user = await signUp(t);
    const profileId = await createProfile(t, user, "Free brand");
    const refusal = await apiRefusal(user, "/api/api-keys", { name: "Free key", profileId });
    const context = await b.newContext();
    const page = await context.newPage();
    await signIn(page, t.home.url, user.email);
    await open(page, t.home.url, "/app/api-keys", "API keys");
    await page.getByLabel("Key name").fill("Free key");
    await page.getByRole("button", { name: "Create key" }).click();
    await seeText(alertIn(page, "form.card"), refusal);
    const keys = await t.call("GET", `/api/api-keys?profileId=${profileId}`, { token: user.token });
    expect(keys.body.apiKeys).toEqual([]);
    await context.close();
  }, 30_000);
});
