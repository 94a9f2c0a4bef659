import type { Page } from "playwright-core";
import { expect } from "vitest";
import { expectAccessible, password, seeCount, watchErrors } from "./browser.js";

/** The dashboard's pages, what each shows with data and without, and the walk over them (axe on each). */
export interface PageCase {
  path: string;
  heading: string;
  /** A selector or text that only shows with data. */
  withData: string;
  /** What the page shows without data. */
  empty: string;
}

export const pages: PageCase[] = [
  { path: "/", heading: "Overview", withData: "text=Hello from the dashboard test", empty: "text=No posts yet" },
  { path: "/app/compose", heading: "Compose", withData: "[data-check=twitter]", empty: "text=Connect an account first" },
  { path: "/app/calendar", heading: "Calendar", withData: ".cal-post", empty: "text=Nothing scheduled yet" },
  { path: "/app/posts", heading: "Posts", withData: "[data-post]", empty: "text=No posts" },
  { path: "/app/connections", heading: "Connections", withData: "li.connection", empty: "text=No accounts connected yet" },
  { path: "/app/recurring", heading: "Recurring schedules", withData: "text=Weekly tips", empty: "text=No recurring schedules yet" },
  { path: "/app/templates", heading: "Templates", withData: "text=Launch template", empty: "text=No templates yet" },
  { path: "/app/analytics", heading: "Analytics", withData: "text=Sync health", empty: "text=No connected accounts" },
  { path: "/app/team", heading: "Team", withData: "text=Invitations", empty: "text=No invitations" },
  { path: "/app/logs", heading: "Logs & delivery", withData: "tbody tr", empty: "text=No publish attempts yet" },
  { path: "/app/webhooks", heading: "Webhooks", withData: "text=http://localhost:9/hook", empty: "text=Webhooks come with a paid plan" },
  { path: "/app/api-keys", heading: "API keys", withData: "text=Page test key", empty: "text=API keys come with a paid plan" },
  { path: "/app/profiles", heading: "Profiles", withData: ".item >> text=Busy brand", empty: ".item >> text=Quiet brand" },
  { path: "/app/billing", heading: "Billing", withData: "text=Current plan", empty: "role=button[name='Upgrade to Starter']" },
];

export async function signIn(page: Page, base: string, email: string) {
  await page.goto(`${base}/signin`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
}

/** Opens a page and waits until it has finished loading (no spinner left). */
export async function open(page: Page, base: string, path: string, heading: string) {
  await page.goto(`${base}${path}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  await seeCount(page.locator(".loading"), 0);
}

/** Signs in and opens every page, checking its marker for the mode and running axe; no uncaught error allowed. */
export async function walkPages(page: Page, base: string, email: string, mode: "with data" | "without data"): Promise<void> {
  const errors = watchErrors(page);
  await signIn(page, base, email);
  for (const c of pages) {
    await open(page, base, c.path, c.heading);
    const marker = mode === "with data" ? c.withData : c.empty;
    await page.locator(marker).first().waitFor({ timeout: 10_000 }).catch(() => {
      throw new Error(`${c.path} ${mode}: ${marker} not shown`);
    });
    await expectAccessible(page, `${c.path} ${mode}`);
  }
  expect(errors, mode).toEqual([]);
}
