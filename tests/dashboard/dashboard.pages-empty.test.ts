import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp } from "../helpers/users.js";
import { expectAccessible, password, useBrowser, watchErrors } from "./browser.js";
import { walkPages } from "./pages.js";

/**
 * Every page of the dashboard for a Free user with a profile and nothing else (each page's empty state, the paid
 * features' upgrade notes), each checked with axe-core; the signed-out pages; a user without a profile.
 */
const t = useTestHome();
const b = useBrowser();

describe("dashboard: every page without data passes axe", () => {
  it("renders each page's empty state", async () => {
    const quiet = await signUp(t);
    await createProfile(t, quiet, "Quiet brand");
    const context = await b.newContext();
    await walkPages(await context.newPage(), t.home.url, quiet.email, "without data");
    await context.close();
  }, 150_000);

  it("shows the signed-out pages accessibly, and a user without a profile is asked to create one", async () => {
    const context = await b.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    for (const [path, heading] of [
      ["/", "Publish and schedule posts across ten social networks"],
      ["/signin", "Sign in"],
      ["/signup", "Create your account"],
      ["/reset-password", "Reset your password"],
      [`/invite/${"a".repeat(43)}`, "Join a team"],
    ] as const) {
      await page.goto(`${t.home.url}${path}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
      await expectAccessible(page, path);
    }
    // A page that needs a session sends the visitor to sign in, and back afterwards.
    await page.goto(`${t.home.url}/app/billing`);
    await page.waitForURL(/\/signin\?next=%2Fapp%2Fbilling/);
    const newcomer = await signUp(t);
    await page.getByLabel("Email").fill(newcomer.email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Billing" }).waitFor();
    await page.goto(`${t.home.url}/`);
    await page.getByText("You have no profile yet").waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

});
