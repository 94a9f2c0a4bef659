import { expect } from "vitest";
import type { ManualClock } from "../../src/core/clock.js";
import { sign } from "../../src/local/qstash/delivery.js";
import { eventually } from "../helpers/connect.js";
import type { TestHome } from "../helpers/home.js";

/** What the token-health suites share: moving both clocks, running the job, reading rows, connections and events. */
let t: TestHome;
let clock: ManualClock;

/** Binds the helpers to the file's home and its manual clock. */
export function useKit(home: TestHome, manual: ManualClock): void {
  t = home;
  clock = manual;
}

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

/** Moves the home's clock and the sandboxes' clock (src/sandbox/common/clock.ts) forward together. */
export async function advance(ms: number): Promise<Date> {
  clock.advance(ms);
  const res = await fetch(`${t.home.url}/sandbox/__sandbox/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ offsetSeconds: (clock.now().getTime() - Date.now()) / 1000 }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return clock.now();
}

/** One run of the refresh-ahead job, delivered to the queue worker as QStash delivers it. */
export async function runJob() {
  const path = "/api/queue/token-health";
  const body = "{}";
  const signature = await sign(`${t.home.url}${path}`, Buffer.from(body), new TextEncoder().encode(t.home.secrets.qstashCurrentSigningKey));
  const res = await t.call("POST", path, { rawBody: body, headers: { "content-type": "application/json", "upstash-signature": signature } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.result as { refreshed: number; failed: number; expired: number; warned: number };
}

export interface Row {
  status: string;
  last_error: string | null;
  token_expires_at: Date | null;
  refresh_token_expires_at: Date | null;
  usable_until: Date | null;
  tokens_refreshed_at: Date | null;
  access_token_enc: string;
}

export const rowOf = async (id: string) =>
  (await t.sql<Row[]>`
    select status, last_error, token_expires_at, refresh_token_expires_at, usable_until, tokens_refreshed_at, access_token_enc
    from public.connections where id = ${id}`)[0]!;

export const connectionOf = async (apiKey: string, id: string) => {
  const res = await t.call("GET", "/api/v1/connections", { apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const connection = res.body.connections.find((c: { id: string }) => c.id === id);
  expect(connection, id).toBeDefined();
  return connection;
};

export const eventsOf = async (id: string, type: string) =>
  t.sql<{ payload: any }[]>`select payload from public.events where event_type = ${type} and payload->'data'->>'connection_id' = ${id} order by created_at`;

/** Within a few seconds of `expected` (the sandbox's and the home's clocks drift apart by the test's real run time). */
export function near(actual: Date | null, expected: number, toleranceMs = 60_000) {
  expect(actual, "a date").not.toBeNull();
  expect(Math.abs(actual!.getTime() - expected), `${actual!.toISOString()} vs ${new Date(expected).toISOString()}`).toBeLessThan(toleranceMs);
}

export async function publishNow(apiKey: string, platform: string, content: string) {
  const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform, content } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return eventually(async () => {
    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    return ["published", "failed"].includes(post.body.post.status) ? post.body.post : undefined;
  }, 20_000, "the post to settle");
}

