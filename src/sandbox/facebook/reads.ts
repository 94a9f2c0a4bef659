import type { ErrorCategory } from "../../platforms/types.js";
import { accountById, accountFollowers, findPost, garbageResponse, json, metricsFailure, postMetrics } from "../common.js";
import { injectedResponse } from "./publish.js";
import { pageToken } from "./auth.js";
import {
  type Call,
  type Caller,
  type Facebook,
  facebookSandboxConfig,
  fieldList,
  invalidParameter,
  NETWORK,
  type PageRow,
  unsupportedGet,
} from "./shared.js";

/** Reads: the user or Page (`/me`), granted permissions, the user's Pages with their tokens, a published post. */

export function picture(ctx: Facebook, id: string) {
  return { data: { height: 50, width: 50, is_silhouette: false, url: `https://scontent.xx.fbcdn.net/v/sandbox/${id}/picture.jpg` } };
}

export function pageFields(ctx: Facebook, page: PageRow, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: page.id };
  for (const field of fields) {
    if (field === "name") out.name = page.name;
    else if (field === "username" && page.username) out.username = page.username;
    else if (field === "link") out.link = `https://www.facebook.com/${page.username ?? page.id}`;
    else if (field.startsWith("picture")) out.picture = picture(ctx, page.id);
    else if (field === "category") out.category = "Sandbox";
  }
  return out;
}

export async function me(ctx: Facebook, caller: Caller, params: URLSearchParams): Promise<Response> {
  const fields = fieldList(params, ["id", "name"]);
  if (caller.kind === "page") return json(200, pageFields(ctx, (await ctx.pageById(caller.pageId!))!, fields));
  const user = await accountById(ctx, NETWORK, caller.userId);
  const out: Record<string, unknown> = { id: user!.id };
  if (fields.includes("name")) out.name = user!.name;
  if (fields.some((f) => f.startsWith("picture"))) out.picture = picture(ctx, user!.id);
  if (fields.includes("email") && caller.grant.scopes.includes("email")) out.email = `${user!.username}@sandbox.invalid`;
  return json(200, out);
}

export async function permissions(ctx: Facebook, caller: Caller): Promise<Response> {
  if (caller.kind === "page") return invalidParameter("Tried accessing nonexisting field (permissions) on node type (Page)");
  const declined = await ctx.sql<{ permission: string }[]>`
    select permission from local_sandbox.facebook_declined where account_id = ${caller.userId} order by permission`;
  return json(200, {
    data: [
      ...caller.grant.scopes.map((permission) => ({ permission, status: "granted" })),
      ...declined.filter((d) => !caller.grant.scopes.includes(d.permission)).map((d) => ({ permission: d.permission, status: "declined" })),
    ],
  });
}

export async function accounts(ctx: Facebook, req: Request, caller: Caller, params: URLSearchParams): Promise<Response> {
  if (caller.kind === "page") return invalidParameter("Tried accessing nonexisting field (accounts) on node type (Page)");
  // Without pages_show_list Meta lists no Pages.
  const pages = caller.grant.scopes.includes("pages_show_list") ? await ctx.pagesOf(caller.userId) : [];
  const limit = Math.min(Math.max(Number(params.get("limit") ?? facebookSandboxConfig.accountsPageLimit) || 1, 1), 100);
  const offset = Math.max(Number(Buffer.from(params.get("after") ?? "", "base64url").toString("utf8")) || 0, 0);
  const slice = pages.slice(offset, offset + limit);
  const fields = fieldList(params, ["id", "name", "access_token", "category", "tasks"]);
  const data = [];
  for (const page of slice) {
    const item = pageFields(ctx, page, fields);
    if (fields.includes("access_token")) item.access_token = await pageToken(ctx, caller.grant, page.id);
    if (fields.includes("tasks")) item.tasks = page.tasks;
    data.push(item);
  }
  const cursor = (n: number) => Buffer.from(String(n)).toString("base64url");
  const paging: Record<string, unknown> = { cursors: { before: cursor(offset), after: cursor(offset + slice.length) } };
  if (offset + slice.length < pages.length) {
    const next = new URL(`${ctx.baseUrl}${new URL(req.url).pathname.slice(new URL(ctx.baseUrl).pathname.length)}`);
    for (const [key, value] of params) if (key !== "after") next.searchParams.set(key, value);
    next.searchParams.set("after", cursor(offset + slice.length));
    paging.next = next.toString();
  }
  return json(200, { data, paging });
}

export async function readPost(ctx: Facebook, caller: Caller, postId: string, params: URLSearchParams, call: Call): Promise<Response> {
  const [post] = await ctx.sql<{ id: string; account_id: string; text: string; created_at: Date }[]>`
    select id, account_id, text, created_at from local_sandbox.posts where network = ${NETWORK} and id = ${postId}`;
  if (!post || (caller.kind === "page" && caller.pageId !== post.account_id)) return unsupportedGet(postId);
  const fields = fieldList(params, ["id", "message", "created_time"]);
  const out: Record<string, unknown> = { id: post.id };
  // Engagement counts (pages_read_engagement): shares, and reactions/comments as summaries.
  const counted = fields.filter((f) => f === "shares" || f.startsWith("reactions") || f.startsWith("comments"));
  if (counted.length) {
    const failure = await metricsFailure(ctx, NETWORK, [(await findPost(ctx, NETWORK, post.id))!]);
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedResponse(ctx, failure as ErrorCategory, "feed", call);
    const m = await postMetrics(ctx, NETWORK, (await findPost(ctx, NETWORK, post.id))!);
    if (fields.includes("shares")) out.shares = { count: m.shares };
    if (fields.some((f) => f.startsWith("reactions"))) out.reactions = { data: [], summary: { total_count: m.likes, viewer_reaction: "NONE" } };
    if (fields.some((f) => f.startsWith("comments"))) out.comments = { data: [], summary: { order: "ranked", total_count: m.comments, can_comment: true } };
  }
  if (fields.includes("message") && post.text) out.message = post.text;
  if (fields.includes("created_time")) out.created_time = post.created_at.toISOString().replace(/\.\d{3}Z$/, "+0000");
  if (fields.includes("permalink_url")) out.permalink_url = `https://www.facebook.com/${post.id}`;
  return json(200, out);
}

/**
 * `GET /{page-post-id}/insights?metric=…` (a Page token with read_insights): lifetime post metrics, the 2025 "media
 * view" names and clicks.
 */
export async function postInsights(ctx: Facebook, caller: Caller, postId: string, params: URLSearchParams, call: Call): Promise<Response> {
  const post = await findPost(ctx, NETWORK, postId);
  if (!post || (caller.kind === "page" && caller.pageId !== post.account_id)) return unsupportedGet(postId);
  if (!caller.grant.scopes.includes("read_insights")) {
    return json(403, { error: { message: "(#10) Requires read_insights permission", type: "OAuthException", code: 10, fbtrace_id: "sandbox" } });
  }
  const m = await postMetrics(ctx, NETWORK, post);
  const available: Record<string, unknown> = {
    post_media_view: m.impressions,
    post_total_media_view_unique: m.reach,
    post_clicks: m.clicks,
    post_reactions_by_type_total: { like: m.likes },
  };
  const asked = (params.get("metric") ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  const unknown = asked.find((x) => !(x in available));
  if (!asked.length || unknown !== undefined) return invalidParameter(`(#100) The value must be a valid insights metric: ${unknown ?? ""}`);
  const failure = await metricsFailure(ctx, NETWORK, [post]);
  if (failure === "garbage") return garbageResponse();
  if (failure) return injectedResponse(ctx, failure as ErrorCategory, "feed", call);
  return json(200, {
    data: asked.map((name) => ({
      name,
      period: "lifetime",
      values: [{ value: available[name] }],
      title: name,
      description: `Lifetime: ${name}`,
      id: `${postId}/insights/${name}/lifetime`,
    })),
    paging: {},
  });
}

/**
 * `GET /{video-id}/video_insights[?metric=…]` (the Page's token with read_insights): a published Page video's lifetime
 * video metrics, all of them when `metric` is absent. Views, impressions, reactions, comments and shares are the shared
 * simulated metrics of the video post; watch times are derived from its views.
 */
export async function videoInsights(ctx: Facebook, caller: Caller, videoId: string, params: URLSearchParams, call: Call): Promise<Response> {
  const post = await findPost(ctx, NETWORK, videoId);
  if (!post || caller.kind !== "page" || caller.pageId !== post.account_id) return unsupportedGet(videoId);
  if (!caller.grant.scopes.includes("read_insights")) {
    return json(403, { error: { message: "(#10) Requires read_insights permission", type: "OAuthException", code: 10, fbtrace_id: "sandbox" } });
  }
  const m = await postMetrics(ctx, NETWORK, post);
  const avgMs = m.videoViews ? 6000 + (m.videoViews % 9000) : 0;
  const love = Math.floor(m.likes / 5);
  const available: Record<string, unknown> = {
    total_video_views: m.videoViews,
    total_video_views_unique: Math.floor(m.videoViews * 0.7),
    total_video_impressions: m.impressions,
    total_video_impressions_unique: m.reach,
    total_video_avg_time_watched: avgMs,
    total_video_view_total_time: avgMs * m.videoViews,
    total_video_reactions_by_type_total: { like: m.likes - love, love },
    total_video_stories_by_action_type: { share: m.shares, like: m.likes, comment: m.comments },
  };
  const asked = (params.get("metric") ?? "").split(",").map((x) => x.trim()).filter(Boolean);
  const unknown = asked.find((x) => !(x in available));
  if (unknown !== undefined) return invalidParameter(`(#100) The value must be a valid insights metric: ${unknown}`);
  const failure = await metricsFailure(ctx, NETWORK, [post]);
  if (failure === "garbage") return garbageResponse();
  if (failure) return injectedResponse(ctx, failure as ErrorCategory, "video", call);
  return json(200, {
    data: (asked.length ? asked : Object.keys(available)).map((name) => ({
      name,
      period: "lifetime",
      values: [{ value: available[name] }],
      title: name,
      description: `Lifetime: ${name}`,
      id: `${videoId}/video_insights/${name}/lifetime`,
    })),
    paging: {},
  });
}

/** Followers of the Pages, read when a Page is rendered with followers_count or fan_count. */
export async function pageFollowers(ctx: Facebook, pageId: string): Promise<number> {
  return accountFollowers(ctx, NETWORK, pageId);
}
