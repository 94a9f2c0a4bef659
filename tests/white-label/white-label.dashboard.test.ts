import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { expectAccessible, useBrowser, watchErrors } from "../dashboard/browser.js";
import { open, signIn } from "../dashboard/pages.js";
import { addMember } from "../team/team-helpers.js";
import { paidUserWithKey } from "../helpers/users.js";
import { registerSandboxApp, saveSandboxApp, whiteLabelOwner } from "./helpers.js";

/**
 * The dashboard for a white-labelled account's team: the shell shows the account's display name (never ours) to the
 * owner and to a member, the settings page lists the apps and passes axe; without the add-on the page says so.
 */
const t = useTestHome();
const b = useBrowser();

describe("white-label in the dashboard", () => {
  it("brands the shell for the team and shows the settings to the owner, axe-clean", async () => {
    const owner = await whiteLabelOwner(t);
    const res = await t.call("PUT", "/api/v1/white-label/branding", {
      token: owner.user.token,
      body: { displayName: "Acme Social", accentColor: "#0a7c55", supportUrl: "https://help.acme.example/" },
    });
    expect(res.status).toBe(200);
    const app = await saveSandboxApp(t, owner.user.token, "linkedin");
    const member = await addMember(t, owner.user, owner.profileId, "member");

    const context = await b.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, t.home.url, owner.user.email);
    await page.locator(".topbar .brand", { hasText: "Acme Social" }).waitFor();
    await open(page, t.home.url, "/app/white-label", "White-label");
    await page.getByText(app.clientId).waitFor();
    expect(await page.getByLabel("Display name").inputValue()).toBe("Acme Social");
    expect(await page.content()).not.toContain(app.clientSecret);
    await expectAccessible(page, "/app/white-label (owner)");
    expect(await page.title()).toBe("Acme Social");
    await context.close();

    const memberContext = await b.newContext();
    const memberPage = await memberContext.newPage();
    await signIn(memberPage, t.home.url, member.user.email);
    await memberPage.locator(".topbar .brand", { hasText: "Acme Social" }).waitFor();
    await open(memberPage, t.home.url, "/app/white-label", "White-label");
    // Only the billing owner manages it: the member is told so and sees nothing of the owner's settings.
    await memberPage.getByText("Only this profile's billing owner").waitFor();
    expect(await memberPage.content()).not.toContain(app.clientId);
    await expectAccessible(memberPage, "/app/white-label (member)");
    await memberContext.close();
    expect(errors).toEqual([]);
  }, 120_000);

  it("saves a Facebook Business app with its Login for Business configuration from the form", async () => {
    const owner = await whiteLabelOwner(t);
    const app = await registerSandboxApp(t, "facebook");
    const configured = await fetch(`${t.home.url}/sandbox/facebook/__sandbox/configurations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clientId: app.clientId, permissions: ["pages_show_list", "pages_read_engagement", "pages_manage_posts"] }),
    });
    const { configId } = (await configured.json()) as { configId: string };

    const context = await b.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, t.home.url, owner.user.email);
    await open(page, t.home.url, "/app/white-label", "White-label");
    await page.getByLabel("Network").selectOption("facebook");
    await page.getByLabel("Client id (Meta: app id; TikTok: client key)").fill(app.clientId);
    await page.getByLabel("Client secret").fill(app.clientSecret);
    await page.getByLabel("Facebook Login for Business configuration id (Business apps; optional)").fill(configId);
    await page.getByRole("button", { name: "Check and save" }).click();
    await page.getByText(`Login for Business configuration ${configId}`).waitFor();
    await expectAccessible(page, "/app/white-label (a Facebook app saved)");
    await context.close();
    expect(errors).toEqual([]);

    const saved = await t.call("GET", "/api/v1/white-label", { token: owner.user.token });
    expect(saved.status).toBe(200);
    expect(saved.body.whiteLabel.apps).toEqual([expect.objectContaining({ platform: "facebook", clientId: app.clientId, options: { configId } })]);
  }, 120_000);

  it("shows ours without the add-on", async () => {
    const plain = await paidUserWithKey(t);
    const context = await b.newContext();
    const page = await context.newPage();
    await signIn(page, t.home.url, plain.user.email);
    await page.locator(".topbar .brand", { hasText: "Amplify" }).waitFor();
    await open(page, t.home.url, "/app/white-label", "White-label");
    await page.getByText("White-label is an add-on").waitFor();
    await expectAccessible(page, "/app/white-label (no add-on)");
    await context.close();
  }, 60_000);
});
