import { describe, expect, it } from "vitest";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

const t = useTestHome();

async function countPosts(profileId: string) {
  const [row] = await t.sql<{ posts: number; targets: number; events: number }[]>`
    select (select count(*)::int from public.posts where profile_id = ${profileId}) as posts,
           (select count(*)::int from public.post_targets where profile_id = ${profileId}) as targets,
           (select count(*)::int from public.events where profile_id = ${profileId}) as events`;
  return row!;
}

describe("POST /api/v1/post: bad input is refused with the reason, and nothing is written", () => {
  const image = { public_url: "https://cdn.example/photo.jpg", mime_type: "image/jpeg", file_name: "photo.jpg" };
  const video = { public_url: "https://cdn.example/clip.mp4", mime_type: "video/mp4", file_name: "clip.mp4" };
  const cases: { name: string; body: Record<string, unknown>; field: string; rule?: string; platform?: string }[] = [
    { name: "an unknown platform", body: { platforms: ["myspace"], content: "hi" }, field: "platforms.0" },
    { name: "an unsupported platform (Snapchat)", body: { platform: "snapchat", content: "hi" }, field: "platforms", rule: "platform_supported", platform: "snapchat" },
    { name: "no platform at all", body: { content: "hi" }, field: "platforms" },
    { name: "both platform and platforms", body: { platform: "twitter", platforms: ["linkedin"], content: "hi" }, field: "platforms" },
    { name: "a repeated platform", body: { platforms: ["twitter", "twitter"], content: "hi" }, field: "platforms" },
    { name: "empty content without media", body: { platform: "twitter", content: "   " }, field: "content" },
    { name: "a past scheduleDate", body: { platform: "twitter", content: "hi", scheduleDate: "2020-01-01T00:00:00Z" }, field: "scheduleDate", rule: "future_date" },
    { name: "a malformed scheduleDate", body: { platform: "twitter", content: "hi", scheduleDate: "next tuesday" }, field: "scheduleDate" },
    { name: "an impossible calendar date", body: { platform: "twitter", content: "hi", scheduleDate: "2031-02-30T10:00:00" }, field: "scheduleDate" },
    { name: "an unknown time zone", body: { platform: "twitter", content: "hi", scheduleDate: "2031-02-03T10:00:00", timezone: "Mars/Base" }, field: "timezone" },
    { name: "content over X's 280 weighted characters", body: { platform: "twitter", content: "x".repeat(281) }, field: "content", rule: "max_text_length", platform: "twitter" },
    { name: "emoji counting double on X", body: { platform: "twitter", content: "🚀".repeat(141) }, field: "content", rule: "max_text_length", platform: "twitter" },
    { name: "a video to X", body: { platform: "twitter", content: "hi", media: [video] }, field: "media", rule: "media_compatibility", platform: "twitter" },
    { name: "TikTok without a video", body: { platform: "tiktok", content: "hi" }, field: "media", rule: "media_required", platform: "tiktok" },
    { name: "an image to TikTok", body: { platform: "tiktok", content: "hi", media: [image] }, field: "media", rule: "media_compatibility", platform: "tiktok" },
    { name: "Pinterest without an image", body: { platform: "pinterest", content: "hi" }, field: "media", rule: "media_required", platform: "pinterest" },
    { name: "two media items", body: { platform: "facebook", content: "hi", media: [image, image] }, field: "media", rule: "single_asset" },
    { name: "an image and a video together", body: { platform: "facebook", content: "hi", media: [image, video] }, field: "media", rule: "no_mixed_types" },
    { name: "media that is not an image or a video", body: { platform: "facebook", content: "hi", media: [{ public_url: "https://cdn.example/a.pdf", mime_type: "application/pdf" }] }, field: "media", rule: "media_type" },
    { name: "a media URL that is not http(s)", body: { platform: "twitter", content: "hi", media: [{ public_url: "file:///etc/passwd", mime_type: "image/png" }] }, field: "media.0.public_url" },
    { name: "no connected X account", body: { platform: "twitter", content: "hello" }, field: "platforms", rule: "connected_account", platform: "twitter" },
    { name: "an unknown field", body: { platform: "twitter", content: "hi", visibility: "public" }, field: "visibility" },
  ];

  for (const c of cases) {
    it(`refuses ${c.name} (400)`, async () => {
      const { apiKey, profileId } = await paidUserWithKey(t);
      const res = await t.call("POST", "/api/v1/post", { apiKey, body: c.body });
      assertEnvelope(res, 400, "validation_error");
      const issue = res.body.details.find((d: { field: string; rule?: string }) => d.field === c.field && (!c.rule || d.rule === c.rule));
      expect(issue, JSON.stringify(res.body.details)).toBeDefined();
      if (c.rule) expect(issue.rule).toBe(c.rule);
      if (c.platform) {
        expect(issue.platform).toBe(c.platform);
        expect(res.body.error).toContain(c.platform);
      }
      expect(await countPosts(profileId)).toEqual({ posts: 0, targets: 0, events: 0 });
    });
  }

  it("a session must name the profile; a key may only name its own", async () => {
    const { user, apiKey } = await paidUserWithKey(t);
    const other = await paidUserWithKey(t);
    const noProfile = await t.call("POST", "/api/v1/post", { token: user.token, body: { platform: "twitter", content: "hi" } });
    assertEnvelope(noProfile, 400, "validation_error");
    expect(noProfile.body.details[0].field).toBe("profileId");
    assertEnvelope(
      await t.call("POST", "/api/v1/post", { apiKey, body: { profileId: other.profileId, platform: "twitter", content: "hi" } }),
      404,
      "not_found",
    );
    assertEnvelope(
      await t.call("POST", "/api/v1/post", { token: user.token, body: { profileId: other.profileId, platform: "twitter", content: "hi" } }),
      404,
      "not_found",
    );
  });

  it("refuses a malformed Idempotency-Key header", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      headers: { "idempotency-key": "x".repeat(300) },
      body: { platform: "twitter", content: "hi" },
    });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.error).toContain("Idempotency-Key");
  });
});

describe("reading posts: errors", () => {
  it("refuses bad filters and unknown ids", async () => {
    const { apiKey } = await paidUserWithKey(t);
    assertEnvelope(await t.call("GET", "/api/v1/posts?status=lost", { apiKey }), 400, "validation_error");
    assertEnvelope(await t.call("GET", "/api/v1/job-logs?limit=501", { apiKey }), 400, "validation_error");
    assertEnvelope(await t.call("GET", "/api/v1/delivery-metrics?days=91", { apiKey }), 400, "validation_error");
    assertEnvelope(await t.call("GET", "/api/v1/posts/7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f", { apiKey }), 404, "not_found");
    assertEnvelope(await t.call("DELETE", "/api/v1/scheduled-posts/7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f", { apiKey }), 404, "not_found");
    assertEnvelope(await t.call("POST", "/api/v1/scheduled-posts/7d8e9f00-1a2b-4c3d-8e4f-5a6b7c8d9e0f/retry", { apiKey, body: {} }), 404, "not_found");
  });
});
