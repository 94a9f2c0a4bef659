import { expect } from "vitest";
import type { TestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/** A paid user whose subscription carries the white-label add-on (as the Stripe webhook records it), with a profile and key. */
export async function whiteLabelOwner(t: TestHome, plan = "growth") {
  const base = await paidUserWithKey(t, plan);
  await t.sql`
    update public.billing_subscriptions set white_label = true, current_period_end = now() + interval '20 days'
    where user_id = ${base.user.id}`;
  return base;
}

/** Registers an app on a sandbox network's developer portal (a real HTTP call to the home's sandbox). */
export async function registerSandboxApp(t: TestHome, network: string, name = "Customer app"): Promise<{ clientId: string; clientSecret: string }> {
  const res = await fetch(`${t.home.url}/sandbox/${network}/__sandbox/apps`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = (await res.json()) as { clientId: string; clientSecret: string };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return { clientId: body.clientId, clientSecret: body.clientSecret };
}

/** The options each network's app needs in the tests (Reddit requires its own User-Agent). */
export const optionsFor = (platform: string): Record<string, unknown> =>
  platform === "reddit" ? { userAgent: "web:acme-social:1.0 (by /u/acme)" } : {};

/** Registers a sandbox app for `platform` and saves it as the owner's white-label app. */
export async function saveSandboxApp(t: TestHome, token: string, platform: string) {
  const app = await registerSandboxApp(t, platform);
  const res = await t.call("PUT", `/api/v1/white-label/apps/${platform}`, {
    token,
    body: { clientId: app.clientId, clientSecret: app.clientSecret, options: optionsFor(platform) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { ...app, id: res.body.app.id as string };
}

/** connect/init's consent URL for a profile (not followed). */
export async function consentUrl(t: TestHome, apiKey: string, platform: string): Promise<URL> {
  const init = await t.call("POST", "/api/v1/connect/init", { apiKey, body: { platform, returnUrl: new URL("/connected", t.home.url).toString() } });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  return new URL(init.body.url);
}
