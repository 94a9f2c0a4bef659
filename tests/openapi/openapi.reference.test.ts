import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";

/**
 * The reference page renders the generated document in a real browser, offline: every request that would leave the
 * home's origin is refused (and recorded), and the page still shows the operations and the walkthrough.
 */
const t = useTestHome();
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: chromiumPath, args: flags, headless: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
});

describe("/docs/ in a browser", () => {
  it.runIf(existsSync(chromiumPath))("renders every operation from /api/v1/openapi.json with nothing loaded from another origin", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(t.home.url).origin;
    const elsewhere: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${t.home.url}/docs/`);
    await page.getByText("Walkthrough, with curl").first().waitFor({ timeout: 45_000 });
    const text = await page.locator("body").innerText();
    // Every feature's tag is in the navigation, and the document is offered for download.
    for (const tag of ["posts", "connections", "webhooks", "webhook events", "profiles"]) expect(text).toContain(`\n${tag}\n`);
    expect(text).toContain("Download OpenAPI Document");
    expect(text).toContain("Amplify Scheduler API");
    expect(errors).toEqual([]);
    expect(elsewhere).toEqual([]);
    await context.close();
  }, 90_000);
});
