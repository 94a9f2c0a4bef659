import { describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

const t = useTestHome();

async function setup() {
  const base = await paidUserWithKey(t);
  await connectAccount(t, { apiKey: base.apiKey }, "twitter");
  await connectAccount(t, { apiKey: base.apiKey }, "linkedin");
  return base;
}

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, ".000Z");

describe("posts: scheduling, reading, cancelling", () => {
  it("schedules to several networks: one scheduled post per network, a post.scheduled event each", async () => {
    const { apiKey, profileId } = await setup();
    const when = inAnHour();
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["twitter", "linkedin"], content: "Later", scheduleDate: when } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ success: true, postId: expect.any(String), scheduled: true, scheduledAt: when });

    const list = await t.call("GET", "/api/v1/scheduled-posts", { apiKey });
    expect(list.body.scheduledPosts.map((s: { platform: string }) => s.platform).sort()).toEqual(["linkedin", "twitter"]);
    expect(list.body.scheduledPosts[0]).toMatchObject({ post_id: res.body.postId, content: "Later", scheduled_at: when, status: "pending" });

    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    expect(post.body.post).toMatchObject({ id: res.body.postId, content: "Later", status: "scheduled", scheduled_for: when, published_at: null, media: [] });
    expect(post.body.post.targets).toHaveLength(2);

    const events = await t.sql`select event_type, payload from public.events where post_id = ${res.body.postId}`;
    expect(events.map((e) => e.event_type)).toEqual(["post.scheduled", "post.scheduled"]);
    expect(events[0]!.payload).toMatchObject({ profile_id: profileId, data: { post_id: res.body.postId, scheduled_at: when } });
  });

  it("reads a scheduleDate without an offset as UTC, or in the given time zone", async () => {
    const { apiKey } = await setup();
    const year = new Date().getUTCFullYear() + 1;
    const utc = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "utc", scheduleDate: `${year}-01-15T10:00:00` } });
    expect(utc.body.scheduledAt).toBe(`${year}-01-15T10:00:00.000Z`);
    const ny = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "ny", scheduleDate: `${year}-07-15T09:00:00`, timezone: "America/New_York" },
    });
    expect(ny.body.scheduledAt).toBe(`${year}-07-15T13:00:00.000Z`);
  });

  it("cancels a pending scheduled post; the post is canceled when nothing remains", async () => {
    const { apiKey } = await setup();
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platforms: ["twitter", "linkedin"], content: "Never mind", scheduleDate: inAnHour() } });
    const [first, second] = (await t.call("GET", "/api/v1/scheduled-posts", { apiKey })).body.scheduledPosts.filter(
      (s: { post_id: string }) => s.post_id === res.body.postId,
    );
    const cancel = await t.call("DELETE", `/api/v1/scheduled-posts/${first.id}`, { apiKey });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual({ success: true, postId: res.body.postId });
    expect((await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey })).body.post.status).toBe("scheduled");
    assertEnvelope(await t.call("DELETE", `/api/v1/scheduled-posts/${first.id}`, { apiKey }), 409, "conflict");
    await t.call("DELETE", `/api/v1/scheduled-posts/${second.id}`, { apiKey });
    expect((await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey })).body.post.status).toBe("canceled");
    const remaining = await t.call("GET", "/api/v1/scheduled-posts", { apiKey });
    expect(remaining.body.scheduledPosts.filter((s: { post_id: string }) => s.post_id === res.body.postId)).toEqual([]);
    const canceled = await t.call("GET", "/api/v1/scheduled-posts?status=canceled", { apiKey });
    expect(canceled.body.scheduledPosts).toHaveLength(2);
  });

  it("lists posts newest first with keyset pagination and a status filter", async () => {
    const { apiKey } = await setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: `p${i}`, scheduleDate: inAnHour() } })).body.postId);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { posts: { id: string }[]; nextCursor: string | null } } = await t.call(
        "GET",
        `/api/v1/posts?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        { apiKey },
      );
      seen.push(...page.body.posts.map((p) => p.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await t.call("GET", "/api/v1/posts?status=published", { apiKey })).body.posts).toEqual([]);
    expect((await t.call("GET", "/api/v1/posts?status=scheduled", { apiKey })).body.posts).toHaveLength(5);
  });

  it("keeps media by public_url with the post", async () => {
    const { apiKey } = await setup();
    const media = { public_url: "https://cdn.example/p.jpg", mime_type: "image/jpeg", file_name: "p.jpg", file_size: 1234, sort_order: 0, post_id: "" };
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "pic", scheduleDate: inAnHour(), media: [media] } });
    expect(res.status).toBe(201);
    const post = await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey });
    expect(post.body.post.media).toEqual([
      { id: expect.any(String), public_url: "https://cdn.example/p.jpg", mime_type: "image/jpeg", file_size: 1234, file_name: "p.jpg", file_path: null },
    ]);
  });
});

describe("posts: Idempotency-Key", () => {
  it("replays the first response for the same key and body, creating nothing more", async () => {
    const { apiKey, profileId } = await setup();
    const body = { platform: "twitter", content: "Once only", scheduleDate: inAnHour() };
    const first = await t.call("POST", "/api/v1/post", { apiKey, body, headers: { "idempotency-key": "order-42" } });
    const again = await t.call("POST", "/api/v1/post", { apiKey, body: { scheduleDate: body.scheduleDate, content: "Once only", platform: "twitter" }, headers: { "idempotency-key": "order-42" } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const [{ count }] = (await t.sql`select count(*)::int as count from public.posts where profile_id = ${profileId}`) as any;
    expect(count).toBe(1);
  });

  it("answers 409 for the same key with a different body", async () => {
    const { apiKey } = await setup();
    await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "A", scheduleDate: inAnHour() }, headers: { "idempotency-key": "k-1" } });
    const clash = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "B", scheduleDate: inAnHour() }, headers: { "idempotency-key": "k-1" } });
    assertEnvelope(clash, 409, "conflict");
  });

  it("concurrent requests with one key create one post", async () => {
    const { apiKey, profileId } = await setup();
    const body = { platform: "twitter", content: "Concurrent", scheduleDate: inAnHour() };
    const results = await Promise.all(
      Array.from({ length: 5 }, () => t.call("POST", "/api/v1/post", { apiKey, body, headers: { "idempotency-key": "same-key" } })),
    );
    for (const r of results) expect([201, 409]).toContain(r.status);
    const [{ count }] = (await t.sql`select count(*)::int as count from public.posts where profile_id = ${profileId} and content = 'Concurrent'`) as any;
    expect(count).toBe(1);
  });

  it("a failed validation does not burn the key", async () => {
    const { apiKey } = await setup();
    const bad = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "x".repeat(300) }, headers: { "idempotency-key": "retry-me" } });
    expect(bad.status).toBe(400);
    const good = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "x".repeat(300) }, headers: { "idempotency-key": "retry-me" } });
    expect(good.status).toBe(400);
  });
});

describe("posts: tenancy", () => {
  it("another tenant cannot read, cancel or retry a post, nor post through its connections", async () => {
    const a = await setup();
    const b = await paidUserWithKey(t);
    const res = await t.call("POST", "/api/v1/post", { apiKey: a.apiKey, body: { platform: "twitter", content: "mine", scheduleDate: inAnHour() } });
    const [target] = await t.sql`select id from public.post_targets where post_id = ${res.body.postId}`;
    assertEnvelope(await t.call("GET", `/api/v1/posts/${res.body.postId}`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", `/api/v1/scheduled-posts/${target!.id}`, { apiKey: b.apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", `/api/v1/scheduled-posts/${target!.id}/retry`, { apiKey: b.apiKey, body: {} }), 404, "not_found");
    assertEnvelope(await t.call("GET", `/api/v1/job-logs?profileId=${a.profileId}`, { apiKey: b.apiKey }), 404, "not_found");
    const through = await t.call("POST", "/api/v1/post", { apiKey: b.apiKey, body: { platform: "twitter", content: "borrowed" } });
    assertEnvelope(through, 400, "validation_error");
    expect(through.body.details[0].rule).toBe("connected_account");
    expect((await t.call("GET", "/api/v1/posts", { apiKey: b.apiKey })).body.posts).toEqual([]);
  });
});
