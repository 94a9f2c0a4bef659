import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fakeJpeg } from "../helpers/fake-jpeg.js";
import { useTestHome } from "../helpers/home.js";
import { expectAccessible, nav, recordRequests, seeCount, seeText, signUpInBrowser, useBrowser, watchErrors } from "./browser.js";

/**
 * The main flow in a real browser, against the local home: sign up → profile → upgrade through the emulated
 * Checkout → connect X and LinkedIn → compose with an image → schedule 5 s ahead → published in the calendar with both
 * results → API key created and copied → a teammate invited, accepting in a second browser context.
 */
const t = useTestHome();
const b = useBrowser();

describe("dashboard: the main flow end to end", () => {
  it("takes a new user from sign-up to a published post, an API key and a teammate", async () => {
    const base = t.home.url;
    const owner = b.newContext();
    const context = await owner;
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const requests = recordRequests(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const email = `owner-${randomBytes(4).toString("hex")}@example.com`;

    // Sign up.
    await signUpInBrowser(page, base, email);

    // Create a profile (times shown in UTC for this test).
    await nav(page, "Profiles");
    await page.getByLabel("Profile name").fill("Acme");
    await page.locator("form.card").getByLabel("Time zone").selectOption("UTC");
    await page.getByRole("button", { name: "Create profile" }).click();
    await page.locator(".item", { hasText: "Acme" }).getByText("current").waitFor();

    // Upgrade through the emulated Stripe Checkout and come back to the overview.
    await nav(page, "Billing");
    await page.getByRole("button", { name: "Upgrade to Starter" }).click();
    await page.waitForURL(/\/stripe\/checkout\//);
    await page.getByRole("button", { name: /^Pay/ }).click();
    await page.waitForURL((u) => u.pathname === "/" && u.searchParams.get("billing") === "success");
    await page.getByText("your subscription is active").waitFor();
    await expect.poll(async () => page.locator(".topbar .badge").textContent(), { timeout: 10_000 }).toBe("Starter");

    // Connect X and LinkedIn through their (sandbox) consent pages and back.
    for (const [label, id] of [
      ["Twitter / X", "twitter"],
      ["LinkedIn", "linkedin"],
    ] as const) {
      await nav(page, "Connections");
      await page.getByRole("button", { name: `Connect ${label}` }).click();
      await page.waitForURL((u) => u.pathname === "/app/connections" && u.searchParams.get("connected") === id);
      await page.getByText(`${label} is connected.`).waitFor();
    }
    await seeCount(page.locator("li.connection"), 2);

    // Compose one post with an image for both, scheduled 5 s ahead (UTC wall clock).
    await nav(page, "Compose");
    // The live check uses the API's own rules: X counts 281 weighted characters as too long, LinkedIn does not.
    await page.getByLabel("Post text").fill("x".repeat(281));
    await seeText(page.locator("[data-check=twitter]"), "allows 280 characters; this content counts 281");
    await seeText(page.locator("[data-check=linkedin]"), "ready");
    expect(await page.getByRole("button", { name: "Publish now" }).isDisabled()).toBe(true);
    await page.getByLabel("Post text").fill("Launch day: our new scheduler is live");
    await seeText(page.locator("[data-check=twitter]"), "ready");
    await page.getByLabel("Media (one image or one video)").setInputFiles({ name: "launch.jpg", mimeType: "image/jpeg", buffer: fakeJpeg() });
    await page.getByText("uploaded").waitFor();
    await page.getByLabel("Schedule").check();
    const at = new Date(Date.now() + 5_000);
    await page.getByLabel("Date").fill(at.toISOString().slice(0, 10));
    await page.getByLabel("Time", { exact: true }).fill(at.toISOString().slice(11, 19));
    await page.locator("fieldset.when").getByLabel("Time zone").selectOption("UTC");
    await page.getByRole("button", { name: "Schedule post" }).click();
    await page.getByText(/Scheduled for/).waitFor();

    // See it published in the calendar with both networks' results.
    await nav(page, "Calendar");
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          await page.locator(".calendar").waitFor();
          return page.locator(".cal-post[data-status=published]").count();
        },
        { timeout: 45_000, interval: 1000 },
      )
      .toBe(1);
    await page.locator(".cal-post[data-status=published]").click();
    for (const network of ["twitter", "linkedin"]) {
      const target = page.locator(`.card [data-target=${network}]`);
      await seeText(target, "published");
      expect(await target.getByRole("link", { name: /View live post/ }).getAttribute("href")).toMatch(/^http/);
    }
    await expectAccessible(page, "calendar with a published post");

    // Create an API key, see it once, copy it.
    await nav(page, "API keys");
    await page.getByLabel("Key name").fill("CMS");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = await page.getByRole("textbox", { name: "New API key" }).inputValue();
    expect(shown).toMatch(/^ak_/);
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(shown);
    await page.getByRole("button", { name: "I saved it" }).click();
    await seeText(page.locator(".item code"), /^\.\.\./);

    // Invite a teammate; they accept from the link in a second browser context and appear in the team.
    await nav(page, "Team");
    const mateEmail = `mate-${randomBytes(4).toString("hex")}@example.com`;
    await page.getByLabel("Email").fill(mateEmail);
    await page.getByRole("button", { name: "Send invitation" }).click();
    const inviteUrl = await page.locator("[data-invite-url]").getAttribute("href");
    expect(inviteUrl).toMatch(/\/invite\/[A-Za-z0-9_-]{43}$/);

    const mate = await b.newContext();
    const matePage = await mate.newPage();
    await matePage.goto(inviteUrl!);
    await matePage.getByRole("link", { name: "Create an account" }).click();
    await matePage.getByLabel("Email").fill(mateEmail);
    await matePage.getByLabel("Password").fill("another good password");
    await matePage.getByRole("button", { name: "Create account" }).click();
    await matePage.getByRole("button", { name: "Accept invitation" }).click();
    await matePage.getByText("You joined as member").waitFor();
    await mate.close();

    await page.reload();
    await seeText(page.locator(`[data-member="${mateEmail}"]`), "member");

    // The session token never travelled in a URL.
    expect(requests.tokens.size).toBeGreaterThan(0);
    expect(requests.tokensInUrls()).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 150_000);
});
