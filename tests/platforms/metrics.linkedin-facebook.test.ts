import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { analyticsSupport, connectScopes } from "../../src/analytics/model.js";
import { liveCredentials } from "../../src/connections/tokens.js";
import { serviceDb } from "../../src/core/services.js";
import { restliUrn } from "../../src/platforms/linkedin.js";
import { getAdapter } from "../../src/platforms/registry.js";
import { PlatformError, type MetricsRequest, type PostMetricValues } from "../../src/platforms/types.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * LinkedIn metrics (members through memberCreatorPostAnalytics, organization pages through
 * organizationalEntityShareStatistics and socialActions) and Facebook video insights, each against its sandbox: the
 * versioned request shapes the sandbox insists on, the mapping to the one model, which posts have none, the capability
 * per account type, and the failure markers. The local home's LinkedIn app is approved here for every metrics scope.
 */
const t = useTestHome({ env: { LINKEDIN_ANALYTICS_SCOPES: "r_member_postAnalytics, r_organization_social, rw_organization_admin" } });

const set = { impressions: 1000, reach: 800, likes: 50, comments: 5, shares: 10, quotes: 2, saves: 3, clicks: 7, videoViews: 900 };

async function connected(platform: "linkedin" | "facebook") {
  const { apiKey, profileId } = await paidUserWithKey(t);
  const connectionId = await connectAccount(t, { apiKey }, platform);
  const [c] = await t.sql<{ external_account_id: string; scopes: string[]; metadata: Record<string, unknown> }[]>`
    select external_account_id, scopes, metadata from public.connections where id = ${connectionId}`;
  return { apiKey, profileId, connectionId, ...c! };
}

async function request(account: { connectionId: string; profileId: string }, posts: string[], externalAccountId?: string): Promise<MetricsRequest> {
  const credentials = await liveCredentials(serviceDb(), account.connectionId, { profileId: account.profileId });
  return {
    accessToken: credentials.accessToken,
    account: { externalAccountId: externalAccountId ?? credentials.externalAccountId, username: credentials.username },
    settings: credentials.settings,
    posts: posts.map((externalPostId) => ({ externalPostId })),
  };
}

async function sandboxPost(network: string, accountId: string, id: string, text = "A measured post", media: unknown[] = []) {
  await t.sql`
    insert into local_sandbox.posts (network, id, account_id, text, media, created_at)
    values (${network}, ${id}, ${accountId}, ${text}, ${t.sql.json(media as never)}, ${new Date(Date.now() - 30 * 3_600_000)})`;
  return id;
}

async function control(network: string, path: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.home.url}/sandbox/${network}/__sandbox${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return res.json() as Promise<Record<string, string>>;
}

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

const shareUrn = () => `urn:li:share:${randomInt(1e12, 9e12)}`;
const metricsOf = (r: unknown) => (r as { metrics: PostMetricValues }).metrics;

describe("LinkedIn member posts: memberCreatorPostAnalytics", () => {
  it("asks for the approved scopes at connect, and maps the five counts of a member's post", async () => {
    expect(connectScopes("linkedin")).toEqual(["openid", "profile", "w_member_social", "r_member_postAnalytics", "r_organization_social", "rw_organization_admin"]);
    const account = await connected("linkedin");
    expect(account.scopes).toContain("r_member_postAnalytics");
    expect(account.metadata).toMatchObject({ accountType: "member" });
    expect(analyticsSupport("linkedin", account)).toEqual({
      supported: true,
      reason: null,
      metrics: ["impressions", "reach", "likes", "comments", "shares"],
      followers: false,
    });
    const memberId = account.external_account_id.replace("urn:li:person:", "");
    const measuredPost = await sandboxPost("linkedin", memberId, shareUrn());
    const simulated = await sandboxPost("linkedin", memberId, shareUrn(), "A simulated post");
    const othersPost = await sandboxPost("linkedin", "someone-else", shareUrn());
    await control("linkedin", `/posts/${encodeURIComponent(measuredPost)}/metrics`, set);

    const results = await (await getAdapter("linkedin")).metrics!.posts(await request(account, [measuredPost, simulated, othersPost, "urn:li:article:1"]));
    expect(results[0]).toEqual({
      externalPostId: measuredPost,
      metrics: { impressions: 1000, reach: 800, likes: 50, comments: 5, shares: 10, saves: null, clicks: null, videoViews: null },
      raw: { IMPRESSION: [1000], MEMBERS_REACHED: [800], REACTION: [50], COMMENT: [5], RESHARE: [10] },
    });
    // A day-old post has simulated engagement that follows the shared curve.
    expect(metricsOf(results[1]).impressions).toBeGreaterThan(0);
    expect(metricsOf(results[1]).reach).toBeLessThanOrEqual(metricsOf(results[1]).impressions!);
    expect(results[2]).toMatchObject({ externalPostId: othersPost, unavailable: expect.stringMatching(/no such post/) });
    expect(results[3]).toMatchObject({ unavailable: expect.stringMatching(/not a share or ugcPost/) });
  });

  it("the sandbox insists on the versioned request shape (headers, entity finder, TOTAL aggregation)", async () => {
    const account = await connected("linkedin");
    const memberId = account.external_account_id.replace("urn:li:person:", "");
    const urn = await sandboxPost("linkedin", memberId, shareUrn());
    const { accessToken } = await request(account, []);
    const ask = (query: string, headers: Record<string, string> = { "linkedin-version": "202607", "x-restli-protocol-version": "2.0.0" }) =>
      fetch(`${t.home.url}/sandbox/linkedin/rest/memberCreatorPostAnalytics?${query}`, { headers: { authorization: `Bearer ${accessToken}`, ...headers } });
    const good = `q=entity&entity=(share:${restliUrn(urn)})&queryType=IMPRESSION&aggregation=TOTAL`;
    expect(good).toContain("entity=(share:urn%3Ali%3Ashare%3A");
    const ok = await ask(good);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      elements: [{ count: expect.any(Number), metricType: { "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1": "IMPRESSION" } }],
    });
    expect((await ask(good, {})).status).toBe(400); // no LinkedIn-Version
    expect((await ask(good.replace("IMPRESSION", "VIEWS"))).status).toBe(400);
    expect((await ask(good.replace("share:", "ugcPost:"))).status).toBe(400);
  });

  it("fails like LinkedIn: throttled, garbage, revoked", async () => {
    const account = await connected("linkedin");
    const memberId = account.external_account_id.replace("urn:li:person:", "");
    const api = (await getAdapter("linkedin")).metrics!;
    const post = await sandboxPost("linkedin", memberId, shareUrn());
    await control("linkedin", `/posts/${encodeURIComponent(post)}/metrics`, { fail: "rate_limited", times: 1 });
    expect((await failure(api.posts(await request(account, [post])))).category).toBe("rate_limited");
    await control("linkedin", `/posts/${encodeURIComponent(post)}/metrics`, { fail: "garbage", times: 1 });
    expect(await failure(api.posts(await request(account, [post])))).toMatchObject({ category: "unknown", details: { platformCode: "invalid_response" } });
    const marked = await sandboxPost("linkedin", memberId, shareUrn(), "Measured [sandbox-metrics:network_error:1]");
    expect((await failure(api.posts(await request(account, [marked])))).category).toBe("network_error");
    expect(await api.posts(await request(account, [marked, post]))).toEqual([
      expect.objectContaining({ externalPostId: marked, metrics: expect.any(Object) }),
      expect.objectContaining({ externalPostId: post, metrics: expect.any(Object) }),
    ]);
    const req = await request(account, [post]);
    await control("linkedin", `/accounts/${encodeURIComponent(account.external_account_id)}/revoke-all-tokens`, {});
    expect((await failure(api.posts(req))).category).toBe("auth_error");
  });

  it("says why not: a member connection without the scope, and an organization page without the admin scopes", () => {
    const member = { scopes: ["openid", "profile", "w_member_social"], metadata: { accountType: "member" } };
    expect(analyticsSupport("linkedin", member)).toMatchObject({ supported: false, reason: expect.stringMatching(/lacks r_member_postAnalytics/) });
    const page = { scopes: ["openid", "profile", "w_member_social", "r_organization_social"], metadata: { accountType: "organization" } };
    expect(analyticsSupport("linkedin", page)).toMatchObject({ supported: false, reason: expect.stringMatching(/lacks rw_organization_admin/) });
    expect(analyticsSupport("linkedin", { ...page, scopes: [...page.scopes, "rw_organization_admin"] })).toMatchObject({
      supported: true,
      metrics: ["impressions", "reach", "likes", "comments", "shares", "clicks"],
    });
  });
});

describe("LinkedIn organization posts: organizationalEntityShareStatistics and socialActions", () => {
  it("reads a page's posts in one statistics call, with likes and comments from socialActions", async () => {
    const account = await connected("linkedin");
    const org = await control("linkedin", "/organizations", { admin: account.external_account_id });
    const measuredPost = await sandboxPost("linkedin", org.id!, shareUrn());
    const ugcPost = await sandboxPost("linkedin", org.id!, `urn:li:ugcPost:${randomInt(1e12, 9e12)}`);
    const notTheOrgs = await sandboxPost("linkedin", "999", shareUrn());
    await control("linkedin", `/posts/${encodeURIComponent(measuredPost)}/metrics`, set);

    const results = await (await getAdapter("linkedin")).metrics!.posts(await request(account, [measuredPost, ugcPost, notTheOrgs], org.urn));
    expect(results[0]).toMatchObject({
      externalPostId: measuredPost,
      metrics: { impressions: 1000, reach: 800, likes: 50, comments: 5, shares: 10, clicks: 7, saves: null, videoViews: null },
      raw: {
        totalShareStatistics: { impressionCount: 1000, uniqueImpressionsCount: 800, clickCount: 7, likeCount: 50, commentCount: 5, shareCount: 10, engagement: 0.072 },
        socialActions: { likesSummary: { totalLikes: 50 }, commentsSummary: { aggregatedTotalComments: 5, totalFirstLevelComments: 4 } },
      },
    });
    expect(results[1]).toMatchObject({ externalPostId: ugcPost, metrics: { impressions: expect.any(Number), clicks: expect.any(Number) } });
    expect(results[2]).toMatchObject({ externalPostId: notTheOrgs, unavailable: expect.stringMatching(/no statistics/) });
  });

  it("a member who does not administer the page is refused (a permission the member must be given, then reconnect)", async () => {
    const account = await connected("linkedin");
    const other = await connected("linkedin");
    const org = await control("linkedin", "/organizations", { admin: other.external_account_id });
    const post = await sandboxPost("linkedin", org.id!, shareUrn());
    expect((await failure((await getAdapter("linkedin")).metrics!.posts(await request(account, [post], org.urn)))).category).toBe("auth_error");
  });

  it("failure markers apply to the statistics call", async () => {
    const account = await connected("linkedin");
    const org = await control("linkedin", "/organizations", { admin: account.external_account_id });
    const post = await sandboxPost("linkedin", org.id!, shareUrn(), "Page post [sandbox-metrics:rate_limited:1]");
    const api = (await getAdapter("linkedin")).metrics!;
    expect((await failure(api.posts(await request(account, [post], org.urn)))).category).toBe("rate_limited");
    expect(await api.posts(await request(account, [post], org.urn))).toEqual([expect.objectContaining({ metrics: expect.any(Object) })]);
  });
});

describe("Facebook video posts: video_insights", () => {
  it("reads a Page video's video insights, beside a text post's post insights", async () => {
    const account = await connected("facebook");
    const pageId = account.external_account_id;
    const video = await sandboxPost("facebook", pageId, String(randomInt(1e12, 9e12)), "A video", [{ id: "v", mimeType: "video/mp4", sizeBytes: 1000 }]);
    const text = await sandboxPost("facebook", pageId, `${pageId}_${randomInt(1e12, 9e12)}`);
    const gone = String(randomInt(1e12, 9e12));
    await control("facebook", `/posts/${video}/metrics`, set);
    await control("facebook", `/posts/${text}/metrics`, set);

    const [v, p, g] = await (await getAdapter("facebook")).metrics!.posts(await request(account, [video, text, gone]));
    expect(v).toMatchObject({
      externalPostId: video,
      metrics: { videoViews: 900, impressions: 1000, reach: 800, likes: 50, comments: 5, shares: 10, clicks: null, saves: null },
      raw: {
        video_insights: {
          total_video_views: 900,
          total_video_views_unique: 630,
          total_video_avg_time_watched: expect.any(Number),
          total_video_view_total_time: expect.any(Number),
          total_video_reactions_by_type_total: { like: 40, love: 10 },
          total_video_stories_by_action_type: { share: 10, like: 50, comment: 5 },
        },
      },
    });
    expect(p).toMatchObject({ metrics: { impressions: 1000, reach: 800, likes: 50, comments: 5, shares: 10, clicks: 7, videoViews: null } });
    expect(g).toMatchObject({ externalPostId: gone, unavailable: expect.stringMatching(/no such post/) });
  });

  it("video insights fail like Graph: rate limit, garbage, revoked", async () => {
    const account = await connected("facebook");
    const api = (await getAdapter("facebook")).metrics!;
    const video = await sandboxPost("facebook", account.external_account_id, String(randomInt(1e12, 9e12)), "Video", [{ mimeType: "video/mp4" }]);
    await control("facebook", `/posts/${video}/metrics`, { fail: "rate_limited", times: 1 });
    expect((await failure(api.posts(await request(account, [video])))).category).toBe("rate_limited");
    await control("facebook", `/posts/${video}/metrics`, { fail: "garbage", times: 1 });
    expect(await failure(api.posts(await request(account, [video])))).toMatchObject({ details: { platformCode: "invalid_response" } });
    expect(await api.posts(await request(account, [video]))).toEqual([expect.objectContaining({ metrics: expect.objectContaining({ videoViews: expect.any(Number) }) })]);
    await control("facebook", `/posts/${video}/metrics`, { fail: "auth_error", times: 1 });
    expect((await failure(api.posts(await request(account, [video])))).category).toBe("auth_error");
  });
});
