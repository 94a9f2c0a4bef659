import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { manualClock, setClockForTests } from "../../src/core/clock.js";
import { retryDelaySeconds, type RetrySchedule } from "../../src/core/jobs/index.js";
import { publishRetry } from "../../src/publishing/executor.js";
import { sign } from "../../src/local/qstash/delivery.js";
import { deliveryRetry, MAX_RETRY_DELAY_SECONDS } from "../../src/webhooks/deliver.js";
import { eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { createProfile, signUp } from "../helpers/users.js";

/**
 * The job abstraction (src/core/jobs/) through the front door: the one queue worker at /api/queue/:job, a periodic job
 * put on the queue by the sweep around its time (once, however many sweeps see it), and the retry schedules as data.
 * Publishing and webhook delivery, the outbox jobs, keep their own suites (tests/publishing/, tests/webhooks/).
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.2", PUBLISH_RETRY_BASE_SECONDS: "60", WEBHOOK_RETRY_BASE_SECONDS: "10" } });

afterEach(() => setClockForTests(undefined));

/** A delivery signed as QStash signs it (the emulator's signer; tests/jobs/queue.contract.test.ts checks what is refused). */
async function signedPost(path: string, body: string, key = t.home.secrets.qstashCurrentSigningKey) {
  const signature = await sign(`${t.home.url}${path}`, Buffer.from(body), new TextEncoder().encode(key));
  return t.call("POST", path, { rawBody: body, headers: { "content-type": "application/json", "upstash-signature": signature } });
}

/** One connect-flow state for a new user's profile, expired `ago` ago. */
async function oauthState(ago: string): Promise<string> {
  const user = await signUp(t);
  const profileId = await createProfile(t, user);
  const state = randomBytes(16).toString("hex");
  await t.sql`
    insert into public.oauth_states (state, profile_id, user_id, platform, code_verifier, redirect_uri, return_url, expires_at)
    values (${state}, ${profileId}, ${user.id}, 'twitter', 'v', 'https://app.example/cb', 'https://app.example/', now() - ${ago}::interval)`;
  return state;
}

const statesLeft = async (states: string[]) =>
  (await t.sql<{ state: string }[]>`select state from public.oauth_states where state = any(${states})`).map((r) => r.state).sort();

describe("the queue worker: POST /api/queue/:job", () => {
  it("refuses a delivery QStash did not sign, whatever the job", async () => {
    for (const job of ["publish", "webhook", "prune-oauth-states", "no-such-job"]) {
      const res = await t.call("POST", `/api/queue/${job}`, { body: {}, headers: { "upstash-signature": "forged" } });
      expect(res.status, job).toBe(401);
    }
    expect((await signedPost("/api/queue/publish", "{}", `sig_${randomBytes(24).toString("base64url")}`)).status).toBe(401);
  });

  it("runs the named job with the parsed message", async () => {
    // Half past an hour on the app's clock, so no sweep queues the hourly run of this job meanwhile (one at the top of
    // the hour would prune the old state first, and this call would find nothing to delete).
    setClockForTests(manualClock(new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 30 * 60_000)));
    const old = await oauthState("2 days");
    const recent = await oauthState("1 hour");
    const res = await signedPost("/api/queue/prune-oauth-states", "{}");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, result: { deleted: expect.any(Number) } });
    expect(res.body.result.deleted).toBeGreaterThanOrEqual(1);
    expect(await statesLeft([old, recent])).toEqual([recent]);
  });

  it("acknowledges (2xx) what retrying cannot fix: an unknown job, a body that is not JSON or that the schema refuses", async () => {
    for (const [path, body] of [
      ["/api/queue/no-such-job", "{}"],
      ["/api/queue/publish", "not json"],
      ["/api/queue/publish", JSON.stringify({ targetId: "not-a-uuid" })],
      ["/api/queue/webhook", JSON.stringify({ targetId: "00000000-0000-4000-8000-000000000000" })],
    ] as const) {
      const res = await signedPost(path, body);
      expect(res.status, `${path} ${body}`).toBe(200);
      expect(res.body).toEqual({ ok: false, result: "ignored" });
    }
  });

  it("answers a message for work that is not due, or gone, without doing anything", async () => {
    const res = await signedPost("/api/queue/publish", JSON.stringify({ targetId: "00000000-0000-4000-8000-000000000000" }));
    expect(res.body).toEqual({ ok: true, result: "skipped" });
  });
});

describe("periodic jobs", () => {
  it("the sweeps around the hour put prune-oauth-states on the queue once, and it runs", async () => {
    const old = await oauthState("3 days");
    // Thirty seconds before an hour that has already passed: the message is due at once, and every sweep in the next
    // few hundred milliseconds sees the same hour (the clock stands still), so QStash deduplicates their messages.
    // Two hours back, so no sweep on the real clock can have queued (and run, before the old state existed) that
    // hour's message already: one just before the next hour looks ahead into it.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
    setClockForTests(manualClock(new Date(hour - 30_000)));
    await eventually(async () => ((await statesLeft([old])).length === 0 ? true : undefined), 10_000, "the old state to be pruned");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Only this hour's messages count: a sweep on the real clock just after the next hour (when the suite runs across
    // an hour boundary) rightly queues that hour's run as well.
    const messages = await t.sql`
      select deduplication_id from local_qstash.messages
      where url like '%/api/queue/prune-oauth-states' and deduplication_id = ${`prune-oauth-states:${hour}`}`;
    expect(messages.map((m) => m.deduplication_id)).toEqual([`prune-oauth-states:${hour}`]);
  });

  it("is not put on the queue between its times", async () => {
    const count = async () =>
      (await t.sql<{ count: number }[]>`
        select count(*)::int as count from local_qstash.messages where url like '%/api/queue/prune-oauth-states'`)[0]!.count;
    const before = await count();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    setClockForTests(manualClock(new Date(hour - 30 * 60_000)));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await count()).toBe(before);
  });
});

describe("retry schedules as data", () => {
  const middle = () => 0.5;
  it("publishing: base, 2×base, 4×base ±10%; a rate limit waits for the network's reset instead", () => {
    expect([1, 2, 3].map((n) => retryDelaySeconds(publishRetry, n, undefined, middle))).toEqual([60, 120, 240]);
    expect(retryDelaySeconds(publishRetry, 1, undefined, () => 0)).toBeCloseTo(54);
    expect(retryDelaySeconds(publishRetry, 1, undefined, () => 1)).toBeCloseTo(66);
    expect(retryDelaySeconds(publishRetry, 3, 5, middle)).toBe(6);
  });

  it("webhooks: base × 4^(n−1) ±20%, capped at a day, never sooner than Retry-After", () => {
    expect([1, 2, 3].map((n) => retryDelaySeconds(deliveryRetry, n, undefined, middle))).toEqual([10, 40, 160]);
    expect(retryDelaySeconds(deliveryRetry, 2, undefined, () => 0)).toBeCloseTo(32);
    expect(retryDelaySeconds(deliveryRetry, 2, undefined, () => 1)).toBeCloseTo(48);
    expect(retryDelaySeconds(deliveryRetry, 20, undefined, () => 1)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(deliveryRetry, 1, 300, middle)).toBe(300);
    expect(retryDelaySeconds(deliveryRetry, 3, 5, middle)).toBe(160);
    expect(retryDelaySeconds(deliveryRetry, 1, 10 * 86_400, middle)).toBe(MAX_RETRY_DELAY_SECONDS);
  });

  it("a schedule is plain data", () => {
    const schedule: RetrySchedule = { kind: "exponential", baseSeconds: 2, factor: 3, capSeconds: 20, jitter: 0, hint: "at-least" };
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(schedule, n))).toEqual([2, 6, 18, 20]);
  });
});
