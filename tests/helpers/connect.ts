import { expect } from "vitest";
import type { TestHome } from "./home.js";

export interface Credentials {
  apiKey?: string;
  token?: string;
}

/**
 * Connects a sandbox account the way a user does: connect/init → the sandbox's consent page (a plain GET approves)
 * → our OAuth callback → the returnUrl with `connectionId`. Every hop is a real HTTP request to the local server.
 */
export async function connectAccount(t: TestHome, who: Credentials, platform: string, profileId?: string): Promise<string> {
  const returnUrl = "https://integrator.example/connected";
  const init = await t.call("POST", "/api/v1/connect/init", { ...who, body: { platform, returnUrl, ...(profileId ? { profileId } : {}) } });
  expect(init.status, JSON.stringify(init.body)).toBe(200);
  expect(init.body.error).toBeNull();
  const consent = await fetch(init.body.url, { redirect: "manual" });
  expect(consent.status).toBe(302);
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual" });
  expect(callback.status, await callback.clone().text()).toBe(302);
  const back = new URL(callback.headers.get("location")!);
  expect(`${back.origin}${back.pathname}`).toBe(returnUrl);
  expect(back.searchParams.get("error"), back.toString()).toBeNull();
  expect(back.searchParams.get("connected")).toBe(platform);
  return back.searchParams.get("connectionId")!;
}

/** Waits until `check` returns a value (not undefined), polling; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
