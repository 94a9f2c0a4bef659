import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dashboardDist } from "../../src/local/dashboard.js";
import { useTestHome } from "../helpers/home.js";
import { signUp } from "../helpers/users.js";
import { expectAccessible, password, signUpInBrowser, useBrowser, watchErrors } from "./browser.js";

/** Sign in, sign out, password reset through the local mailbox; the bundle holds no secret; the headers are set. */
const t = useTestHome();
const b = useBrowser();

function builtFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? builtFiles(file) : [file];
  });
}

describe("dashboard: accounts and security", () => {
  it("signs out, resets a forgotten password from the mailed link, and signs in with the new one", async () => {
    const context = await b.newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    const email = `reset-${Date.now()}@example.com`;
    await signUpInBrowser(page, t.home.url, email);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();

    // A wrong password shows Auth's message.
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").getByText("Invalid login credentials").waitFor();

    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByRole("button", { name: "Send reset link" }).click();
    await page.getByText("a reset link is on its way").waitFor();
    const mail = await t.http(`/_local/mailbox/messages?to=${encodeURIComponent(email)}`);
    const link = (mail.body.messages[0].text as string).match(/https?:\/\/\S+/)![0];
    expect(new URL(link).pathname).toBe("/reset-password/confirm");

    await page.goto(link);
    await page.getByLabel("New password").fill("a brand new password");
    await expectAccessible(page, "reset confirm");
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.getByText("Your password was changed").waitFor();
    expect(new URL(page.url()).search).toBe(""); // the one-time token left the address bar

    // The link works once.
    await page.getByRole("button", { name: "Continue to the dashboard" }).click();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.goto(link);
    await page.getByLabel("New password").fill("yet another password");
    await page.getByRole("button", { name: "Set new password" }).click();
    await page.getByRole("alert").getByText(/invalid or has expired/).waitFor();

    await page.goto(`${t.home.url}/signin`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("a brand new password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(errors.filter((e) => !/40[03]/.test(e))).toEqual([]);
    await context.close();
  }, 60_000);

  it("shows the API's error message when a call fails", async () => {
    const user = await signUp(t);
    const context = await b.newContext();
    const page = await context.newPage();
    await page.goto(`${t.home.url}/signin`);
    await page.getByLabel("Email").fill(user.email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.goto(`${t.home.url}/app/profiles`);
    await page.getByLabel("Profile name").fill(" ");
    await page.getByRole("button", { name: "Create profile" }).click();
    await page.getByRole("alert").getByText(/name/i).waitFor();
    await context.close();
  }, 30_000);

  it("ships no secret in the built files", async () => {
    const files = builtFiles(dashboardDist).filter((f) => /\.(js|css|html|json|map)$/.test(f));
    expect(files.some((f) => f.endsWith(".js"))).toBe(true);
    const secrets = [t.home.serviceRoleKey, t.home.secrets.jwtSecret, t.home.secrets.encryptionKey, t.home.secrets.stripeSecretKey, t.home.secrets.stripeWebhookSecret];
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      for (const secret of secrets) expect(text.includes(secret), `${file} contains a secret`).toBe(false);
      expect(text, file).not.toMatch(/SUPABASE_SERVICE_ROLE_KEY|SUPABASE_JWT_SECRET|ENCRYPTION_KEY|STRIPE_SECRET_KEY|STRIPE_WEBHOOK_SECRET|QSTASH_TOKEN|service_role/);
      expect(text, file).not.toMatch(/\bsk_(live|test)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9+/]{8,}|eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{10,}/);
    }
  });

  it("serves the app with a strict CSP and the security headers, and keeps the landing page and docs reachable", async () => {
    for (const path of ["/", "/app/calendar", `/invite/${"b".repeat(43)}`, "/signin"]) {
      const res = await fetch(`${t.home.url}${path}`);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).not.toContain("unsafe-inline");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("referrer-policy"), path).toBeTruthy();
      expect(await res.text(), path).toContain('<div id="app">');
    }
    expect((await fetch(`${t.home.url}/invite/${"b".repeat(43)}`)).headers.get("referrer-policy")).toBe("no-referrer");
    expect((await fetch(`${t.home.url}/welcome/`)).status).toBe(200);
    expect((await fetch(`${t.home.url}/docs/`)).status).toBe(200);
    // The API keeps answering in its own envelope, never with the app's page.
    const api = await fetch(`${t.home.url}/api/v1/nothing-here`);
    expect(api.headers.get("content-type")).toContain("application/json");
  });
});
