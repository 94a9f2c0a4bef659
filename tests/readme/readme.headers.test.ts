import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey, subscribe } from "../helpers/users.js";

/**
 * What README.md promises about headers, over real HTTP to the local server: every response carries X-Request-Id
 * (API or not, emulators and static files included), and every answer to an API-key request carries X-RateLimit-*
 * once the key is known, 405 and 402 included.
 */
const t = useTestHome();

const requestId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function expectRateLimitHeaders(headers: Headers) {
  expect(Number(headers.get("x-ratelimit-limit"))).toBeGreaterThan(0);
  expect(Number(headers.get("x-ratelimit-remaining"))).toBeGreaterThanOrEqual(0);
  // a Unix time in seconds, in the coming hour
  const reset = Number(headers.get("x-ratelimit-reset"));
  expect(reset).toBeGreaterThan(Date.now() / 1000 - 1);
  expect(reset).toBeLessThanOrEqual(Date.now() / 1000 + 3600 + 1);
}

describe("X-Request-Id on every response of the local server", () => {
  it.each([
    ["a static file's 404", "/no-such-file.txt", 404],
    ["an unknown API path", "/api/v1/no-such-thing", 404],
    ["discovery", "/api/v1", 200],
    ["an emulator", "/_local/mailbox/messages", 200],
  ])("%s", async (_what, path, status) => {
    const res = await fetch(new URL(path, t.home.url));
    await res.arrayBuffer();
    expect(res.status).toBe(status);
    expect(res.headers.get("x-request-id")).toMatch(requestId);
  });

  it("the local 404's envelope names the same request id", async () => {
    const res = await fetch(new URL("/no-such-file.txt", t.home.url));
    const body = (await res.json()) as { requestId: string; code: string };
    expect(body.code).toBe("not_found");
    expect(body.requestId).toBe(res.headers.get("x-request-id"));
  });
});

describe("X-RateLimit-* on refused API-key requests", () => {
  it("405 (a method the path does not take)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const res = await fetch(new URL("/api/v1/connections", t.home.url), { method: "PUT", headers: { "x-api-key": apiKey } });
    await res.arrayBuffer();
    expect(res.status).toBe(405);
    expectRateLimitHeaders(res.headers);
  });

  it("402 (the key's owner has no paid plan)", async () => {
    const { apiKey, user } = await paidUserWithKey(t);
    await subscribe(t, user, "starter", "canceled");
    const res = await fetch(new URL("/api/v1/connections", t.home.url), { headers: { "x-api-key": apiKey } });
    const body = (await res.json()) as { code: string };
    expect(res.status).toBe(402);
    expect(body.code).toBe("subscription_required");
    expectRateLimitHeaders(res.headers);
  });

  it("404 (a path no route takes)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const res = await fetch(new URL("/api/v1/connections/a/b/c", t.home.url), { headers: { "x-api-key": apiKey } });
    await res.arrayBuffer();
    expect(res.status).toBe(404);
    expectRateLimitHeaders(res.headers);
  });

  it("none for an unknown key", async () => {
    const res = await fetch(new URL("/api/v1/connections", t.home.url), { method: "PUT", headers: { "x-api-key": "amp_nope" } });
    await res.arrayBuffer();
    expect(res.status).toBe(405);
    expect(res.headers.get("x-ratelimit-limit")).toBeNull();
  });
});
