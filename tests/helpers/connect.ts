import { expect } from "vitest";
import type { TestHome } from "./home.js";

export interface Credentials {
  apiKey?: string;
  token?: string;
}

/**
 * Connects a sandbox account the way a user does: connect/init → the sandbox's consent page (a plain GET approves)
 * → our OAuth callback → the returnUrl with `connectionId`. Every hop is a real HTTP request to the local server.
 * The returnUrl is on the app's own origin (always allowed) unless `returnUrl` names one registered for the profile.
 * A flow started with a session token is bound to the browser by a cookie: like a browser, this carries the cookie
 * connect/init set to the callback.
 */
export async function connectAccount(
  t: TestHome,
  who: Credentials,
  platform: string,
  options: { profileId?: string; sandboxUser?: string; returnUrl?: string } = {},
): Promise<string> {
  const { profileId } = options;
  // Each connection signs in as its own sandbox user unless told otherwise, so tests do not share accounts.
  const sandboxUser = options.sandboxUser ?? `user-${Math.random().toString(36).slice(2, 10)}`;
  const returnUrl = options.returnUrl ?? new URL("/connected", t.home.url).toString();
  const init = await t.call("POST", "/api/v1/connect/init", { ...who, body: { platform, returnUrl, ...(profileId ? { profileId } : {}) } });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  expect(init.body.error).toBeNull();
  const consentUrl = new URL(init.body.url);
  consentUrl.searchParams.set("sandbox_user", sandboxUser);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  expect(consent.status).toBe(302);
  const cookie = cookieFrom(init.headers);
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual", headers: cookie ? { cookie } : {} });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const back = new URL(callback.headers.get("location")!);
  expect(`${back.origin}${back.pathname}`).toBe(new URL(returnUrl).origin + new URL(returnUrl).pathname);
  expect(back.searchParams.get("error"), back.toString()).toBeNull();
  expect(back.searchParams.get("connected")).toBe(platform);
  return back.searchParams.get("connectionId")!;
}

/** The `name=value` pairs of a response's Set-Cookie headers, as a browser would send them back (attributes dropped). */
export function cookieFrom(headers: Headers): string | undefined {
  const pairs = headers.getSetCookie().map((c) => c.split(";")[0]!.trim());
  return pairs.length ? pairs.join("; ") : undefined;
}

export { eventually } from "./eventually.js";

/** Calls a sandbox control endpoint (see src/sandbox/index.ts) for the account behind a connection. */
export async function sandboxControl(t: TestHome, connectionId: string, action: string): Promise<void> {
  const [c] = await t.sql<{ platform: string; external_account_id: string }[]>`
    select platform, external_account_id from public.connections where id = ${connectionId}`;
  const res = await fetch(`${t.home.url}/sandbox/${c!.platform}/__sandbox/accounts/${encodeURIComponent(c!.external_account_id)}/${action}`, {
    method: "POST",
  });
  expect(res.status, await res.clone().text()).toBeLessThan(300);
}

/** Posts the sandbox network has actually published for the account behind a connection. */
export async function sandboxPosts(t: TestHome, connectionId: string): Promise<{ id: string; text: string }[]> {
  const [c] = await t.sql<{ platform: string; external_account_id: string }[]>`
    select platform, external_account_id from public.connections where id = ${connectionId}`;
  const res = await fetch(`${t.home.url}/sandbox/${c!.platform}/__sandbox/posts?account_id=${encodeURIComponent(c!.external_account_id)}`);
  return ((await res.json()) as { posts: { id: string; text: string }[] }).posts;
}
