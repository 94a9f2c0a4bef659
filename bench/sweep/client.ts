/** What parts 2–4 do to a running local home from outside, as a client would: API calls and connecting accounts. */
import type { LocalHome } from "../../src/local/home.js";

/** One JSON API call over HTTP; anything but a 2xx throws with the answer. */
export async function call<T>(home: LocalHome, method: string, path: string, init: { headers?: Record<string, string>; body?: unknown }): Promise<T> {
  const res = await fetch(new URL(path, home.url), {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * As tests/helpers/connect.ts: connect/init → the sandbox consent page (a GET approves) → our callback → returnUrl.
 * Returns the new connection's id.
 */
export async function connect(home: LocalHome, apiKey: string, platform: string, sandboxUser: string): Promise<string> {
  const returnUrl = new URL("/connected", home.url).toString(); // the app's own origin: always an allowed returnUrl
  const res = await fetch(new URL("/api/v1/connect/init", home.url), {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": apiKey },
    body: JSON.stringify({ platform, returnUrl }),
  });
  if (!res.ok) throw new Error(`connect/init ${platform} answered ${res.status}: ${await res.text()}`);
  const init = (await res.json()) as { url: string };
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const consentUrl = new URL(init.url);
  consentUrl.searchParams.set("sandbox_user", sandboxUser);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  if (consent.status !== 302) throw new Error(`sandbox consent answered ${consent.status}: ${await consent.text()}`);
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual", headers: cookie ? { cookie } : {} });
  if (callback.status !== 302) throw new Error(`OAuth callback answered ${callback.status}: ${await callback.text()}`);
  const back = new URL(callback.headers.get("location")!);
  const connectionId = back.searchParams.get("connectionId");
  if (`${back.origin}${back.pathname}` !== returnUrl || back.searchParams.get("error") || !connectionId) {
    throw new Error(`connecting ${platform} did not succeed: ${back.toString()}`);
  }
  return connectionId;
}
