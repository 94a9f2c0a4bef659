import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";
import { ensureDashboardBuilt } from "../../src/local/dashboard.js";

/**
 * The dashboard's browser tests drive Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) through playwright-core:
 * no browser download. One browser per test file, a fresh profile directory, a context per user.
 */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const flags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export interface BrowserHarness {
  browser: Browser;
  newContext(options?: { phone?: boolean }): Promise<BrowserContext>;
}

export function useBrowser(): BrowserHarness {
  const harness = {} as BrowserHarness;
  beforeAll(async () => {
    await ensureDashboardBuilt();
    // playwright-core gives each launch a fresh, temporary user-data-dir of its own (and removes it on close).
    harness.browser = await chromium.launch({ executablePath: chromiumPath, args: flags, headless: true });
  }, 120_000);
  afterAll(async () => {
    await harness.browser?.close();
  });
  harness.newContext = async (options = {}) => {
    const context = await harness.browser.newContext(
      options.phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 900 } },
    );
    context.setDefaultTimeout(15_000);
    return context;
  };
  return harness;
}

/** Runs axe-core in the page (evaluated, so the page's CSP does not apply) and fails on serious or critical findings. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  await page.evaluate(`${axeSource}\n;0`);
  const violations = (await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(" ")) }));
  })) as { id: string; impact: string; help: string; nodes: string[] }[];
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious, `${label}: ${JSON.stringify(serious, null, 2)}`).toEqual([]);
}

export const password = "correct horse battery";

/** Signs up through the dashboard's form; the page ends on the overview. */
export async function signUpInBrowser(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.goto(`${baseUrl}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

/**
 * Records every request a context makes: the URLs, and the session tokens sent as `Authorization: Bearer` (so a test
 * can check that no session token ever appears in a URL).
 */
export function recordRequests(context: BrowserContext): { urls: string[]; tokens: Set<string>; tokensInUrls(): string[] } {
  const urls: string[] = [];
  const tokens = new Set<string>();
  context.on("request", (r) => {
    urls.push(r.url());
    const bearer = /^Bearer\s+(\S+)$/i.exec(r.headers().authorization ?? "")?.[1];
    if (bearer) tokens.add(bearer);
  });
  return { urls, tokens, tokensInUrls: () => urls.filter((u) => [...tokens].some((tok) => u.includes(tok)) || /[?&#](access_token|refresh_token)=/.test(u)) };
}

/** Fails the test on any uncaught page error or console error (a blank page must never go unnoticed). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Waits until a locator's text contains (or matches) the expected text. */
export async function seeText(locator: import("playwright-core").Locator, expected: string | RegExp, timeout = 15_000): Promise<void> {
  await expect
    .poll(async () => ((await locator.count()) ? ((await locator.first().textContent()) ?? "") : ""), { timeout })
    [typeof expected === "string" ? "toContain" : "toMatch"](expected as never);
}

/** Waits until a locator matches exactly `n` elements. */
export async function seeCount(locator: import("playwright-core").Locator, n: number, timeout = 15_000): Promise<void> {
  await expect.poll(() => locator.count(), { timeout }).toBe(n);
}

/** Follows a link of the main navigation. */
export async function nav(page: Page, name: string): Promise<void> {
  const menu = page.getByRole("button", { name: "Menu" });
  if (await menu.isVisible()) await menu.click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { level: 1 }).first().waitFor();
}
