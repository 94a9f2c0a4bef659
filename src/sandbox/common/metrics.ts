import { createHash } from "node:crypto";
import { sha256Hex } from "./http.js";
import type { SandboxContext } from "./schema.js";

/**
 * Metrics that behave like real ones, for every sandbox network's insights endpoint.
 *
 * A post's lifetime totals are deterministic: seeded by the network and the post's id, scaled by the network (reach
 * and rates differ), by the weekday and the hour (UTC) it was published at (weekday mornings and early evenings do
 * best), and by a per-post draw (0.4×–1.6×). Over time they follow the cumulative curve of a gamma(2, τ) rate:
 *
 *   share(t) = 1 − (1 + t/τ)·e^(−t/τ)       t = hours since publishing
 *
 * so engagement per hour rises after publishing, peaks at τ hours (per network: X 2 h, Threads and Bluesky 3 h,
 * Reddit 4 h, Facebook 6 h, Instagram 10 h, LinkedIn 12 h, TikTok 24 h, YouTube 48 h, Pinterest 96 h) and then decays,
 * while the totals only grow. Values set with the control endpoint replace the simulation for that post.
 *
 * Failure injection for metrics calls, by the post's text (publishing is not affected):
 *   [sandbox-metrics:<category>]      every metrics call for the post fails with the network's own error
 *   [sandbox-metrics:<category>:<n>]  only the first n metrics calls for it fail
 * Categories: rate_limited, auth_error, network_error, unknown, and garbage (HTTP 200 with a body that is not the
 * network's format). The same can be set per post with the control endpoint. Revoked or expired tokens fail metrics
 * calls exactly as they fail publishing (the control endpoints under /__sandbox/accounts/…).
 */

export interface SandboxMetrics {
  impressions: number;
  reach: number;
  likes: number;
  comments: number;
  shares: number;
  quotes: number;
  saves: number;
  clicks: number;
  videoViews: number;
}

export const metricsFailureCategories = ["rate_limited", "auth_error", "network_error", "unknown", "garbage"] as const;
export type MetricsFailure = (typeof metricsFailureCategories)[number];

interface NetworkProfile {
  /** Hours to the peak of engagement per hour. */
  tau: number;
  /** Median lifetime impressions. */
  impressions: number;
  reachShare: number;
  like: number;
  comment: number;
  share: number;
  save: number;
  click: number;
  /** Video views per impression (for video networks, views are the audience). */
  view: number;
}

const profiles: Record<string, NetworkProfile> = {
  twitter: { tau: 2, impressions: 2400, reachShare: 0.7, like: 0.02, comment: 0.003, share: 0.004, save: 0.002, click: 0.01, view: 0.3 },
  linkedin: { tau: 12, impressions: 1800, reachShare: 0.65, like: 0.03, comment: 0.005, share: 0.002, save: 0, click: 0.012, view: 0.2 },
  instagram: { tau: 10, impressions: 3200, reachShare: 0.75, like: 0.05, comment: 0.004, share: 0.006, save: 0.008, click: 0, view: 0.6 },
  facebook: { tau: 6, impressions: 1500, reachShare: 0.8, like: 0.025, comment: 0.004, share: 0.003, save: 0, click: 0.015, view: 0.3 },
  threads: { tau: 3, impressions: 1200, reachShare: 0.75, like: 0.04, comment: 0.006, share: 0.003, save: 0, click: 0.004, view: 0.3 },
  tiktok: { tau: 24, impressions: 9000, reachShare: 0.85, like: 0.07, comment: 0.004, share: 0.005, save: 0.006, click: 0, view: 1 },
  youtube: { tau: 48, impressions: 5000, reachShare: 0.8, like: 0.04, comment: 0.003, share: 0.002, save: 0, click: 0, view: 1 },
  pinterest: { tau: 96, impressions: 2600, reachShare: 0.8, like: 0.004, comment: 0.0005, share: 0, save: 0.012, click: 0.02, view: 0.1 },
  reddit: { tau: 4, impressions: 3000, reachShare: 0.7, like: 0.03, comment: 0.008, share: 0.0008, save: 0, click: 0, view: 0 },
  bluesky: { tau: 3, impressions: 800, reachShare: 0.7, like: 0.05, comment: 0.006, share: 0.006, save: 0, click: 0, view: 0 },
};

/** Monday … Sunday (ISO order) multipliers, and per-hour (UTC) multipliers. */
const weekdayFactor = [1.05, 1.2, 1.25, 1.15, 1.0, 0.7, 0.65];
const hourFactor = [
  0.35, 0.3, 0.25, 0.25, 0.3, 0.45, 0.65, 0.9, 1.15, 1.3, 1.25, 1.15, 1.2, 1.15, 1.05, 1.05, 1.15, 1.3, 1.4, 1.3, 1.1, 0.9, 0.7, 0.5,
];

/** A number in [0, 1) from the seed and a label (stable across runs and machines). */
function draw(seed: string, label: string): number {
  return createHash("sha256").update(`${seed}:${label}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** Share of the lifetime totals reached `hours` after publishing. */
export function curveShare(hours: number, tau: number): number {
  if (hours <= 0) return 0;
  const x = hours / tau;
  return 1 - (1 + x) * Math.exp(-x);
}

/** Lifetime totals of a post (what the curve approaches). */
export function lifetimeMetrics(network: string, postId: string, publishedAt: Date, video: boolean): SandboxMetrics {
  const p = profiles[network] ?? profiles.twitter!;
  const seed = `${network}:${postId}`;
  const weekday = (publishedAt.getUTCDay() + 6) % 7;
  const scale = weekdayFactor[weekday]! * hourFactor[publishedAt.getUTCHours()]! * (0.4 + 1.2 * draw(seed, "scale"));
  const impressions = p.impressions * scale;
  const jitter = (label: string) => 0.7 + 0.6 * draw(seed, label);
  const likes = impressions * p.like * jitter("like");
  return {
    impressions,
    reach: impressions * p.reachShare * jitter("reach") * 0.95,
    likes,
    comments: impressions * p.comment * jitter("comment"),
    shares: impressions * p.share * jitter("share"),
    quotes: impressions * p.share * 0.25 * jitter("quote"),
    saves: impressions * p.save * jitter("save"),
    clicks: impressions * p.click * jitter("click"),
    videoViews: video || p.view >= 1 ? impressions * Math.max(p.view, 0.5) * jitter("view") : 0,
  };
}

/** The post's metrics at `now`: the lifetime totals times the curve's share, floored (so they never go down). */
export function simulatedMetrics(network: string, postId: string, publishedAt: Date, now: Date, video = false): SandboxMetrics {
  const p = profiles[network] ?? profiles.twitter!;
  const share = curveShare((now.getTime() - publishedAt.getTime()) / 3_600_000, p.tau);
  const life = lifetimeMetrics(network, postId, publishedAt, video);
  const at = Object.fromEntries(Object.entries(life).map(([k, v]) => [k, Math.floor(v * share)])) as unknown as SandboxMetrics;
  // Reach never exceeds impressions.
  at.reach = Math.min(at.reach, at.impressions);
  return at;
}

export interface SandboxPost {
  id: string;
  account_id: string;
  text: string;
  media: { mimeType?: string | null }[];
  created_at: Date;
}

export async function findPost(ctx: SandboxContext, network: string, id: string): Promise<SandboxPost | undefined> {
  const [row] = await ctx.sql<SandboxPost[]>`
    select id, account_id, text, media, created_at from local_sandbox.posts where network = ${network} and id = ${id}`;
  return row;
}

/** The post's metrics now: set values where the control endpoint set them, the simulation otherwise. */
export async function postMetrics(ctx: SandboxContext, network: string, post: SandboxPost): Promise<SandboxMetrics> {
  const video = (post.media ?? []).some((m) => (m.mimeType ?? "").startsWith("video/"));
  const simulated = simulatedMetrics(network, post.id, post.created_at, ctx.now(), video);
  const [set] = await ctx.sql<{ metrics: Partial<SandboxMetrics> }[]>`
    select metrics from local_sandbox.post_metrics where network = ${network} and post_id = ${post.id}`;
  return { ...simulated, ...(set?.metrics ?? {}) };
}

/**
 * The failure this metrics call for these posts must answer with, if any: the first post whose text carries a
 * `[sandbox-metrics:…]` marker (counting the call when the marker limits failures), else one set by the control
 * endpoint.
 */
export async function metricsFailure(ctx: SandboxContext, network: string, posts: SandboxPost[]): Promise<MetricsFailure | undefined> {
  for (const post of posts) {
    const match = /\[sandbox-metrics:([a-z_]+)(?::(\d+))?\]/.exec(post.text);
    if (match && (metricsFailureCategories as readonly string[]).includes(match[1]!)) {
      const category = match[1] as MetricsFailure;
      if (match[2] === undefined) return category;
      const [row] = await ctx.sql<{ attempts: number }[]>`
        insert into local_sandbox.attempts (network, account_id, content_hash, attempts)
        values (${network}, ${post.account_id}, ${sha256Hex(`metrics:${post.id}`)}, 1)
        on conflict (network, account_id, content_hash) do update set attempts = local_sandbox.attempts.attempts + 1
        returning attempts`;
      if (row!.attempts <= Number(match[2])) return category;
    }
    const [set] = await ctx.sql<{ fail: MetricsFailure | null; fail_remaining: number | null }[]>`
      update local_sandbox.post_metrics
      set fail_remaining = case when fail_remaining is null then null else fail_remaining - 1 end
      where network = ${network} and post_id = ${post.id} and fail is not null and (fail_remaining is null or fail_remaining > 0)
      returning fail, fail_remaining`;
    if (set?.fail) return set.fail;
  }
  return undefined;
}

/** An account's followers: deterministic per account, growing slowly with the account's age. */
export async function accountFollowers(ctx: SandboxContext, network: string, accountId: string): Promise<number> {
  const [set] = await ctx.sql<{ followers: number }[]>`
    select followers from local_sandbox.account_metrics where network = ${network} and account_id = ${accountId} and followers is not null`;
  if (set) return set.followers;
  const [row] = await ctx.sql<{ created_at: Date }[]>`
    select created_at from local_sandbox.accounts where network = ${network} and id = ${accountId}`;
  const base = 100 + Math.floor(draw(`${network}:${accountId}`, "followers") * 5000);
  const days = row ? Math.max(0, (ctx.now().getTime() - row.created_at.getTime()) / 86_400_000) : 0;
  return base + Math.floor(days * (2 + draw(`${network}:${accountId}`, "growth") * 10));
}

/** A 200 answer that is not the network's format: what a broken proxy or a changed API looks like. */
export function garbageResponse(): Response {
  return new Response(JSON.stringify({ ok: "maybe", data: "<html>Service temporarily rerouted</html>" }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}

/** Control: sets (or clears, with `null`) a post's metrics and an injected failure for its metrics calls. */
export async function setPostMetrics(
  ctx: SandboxContext,
  network: string,
  postId: string,
  body: Record<string, unknown>,
): Promise<{ ok: true; metrics: Partial<SandboxMetrics>; fail: MetricsFailure | null } | { ok: false; error: string }> {
  if (!(await findPost(ctx, network, postId))) return { ok: false, error: `no ${network} sandbox post ${postId}` };
  const keys: (keyof SandboxMetrics)[] = ["impressions", "reach", "likes", "comments", "shares", "quotes", "saves", "clicks", "videoViews"];
  const metrics: Partial<SandboxMetrics> = {};
  for (const key of keys) {
    const v = body[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return { ok: false, error: `${key} must be a non-negative integer` };
    metrics[key] = v;
  }
  const fail = body.fail ?? null;
  if (fail !== null && !(metricsFailureCategories as readonly unknown[]).includes(fail)) {
    return { ok: false, error: `fail must be one of ${metricsFailureCategories.join(", ")} or null` };
  }
  const times = body.times ?? null;
  if (times !== null && (typeof times !== "number" || !Number.isSafeInteger(times) || times < 1)) {
    return { ok: false, error: "times must be a positive integer" };
  }
  await ctx.sql`
    insert into local_sandbox.post_metrics (network, post_id, metrics, fail, fail_remaining)
    values (${network}, ${postId}, ${ctx.sql.json(metrics as never)}, ${fail as string | null}, ${times as number | null})
    on conflict (network, post_id) do update
      set metrics = local_sandbox.post_metrics.metrics || excluded.metrics, fail = excluded.fail, fail_remaining = excluded.fail_remaining`;
  return { ok: true, metrics, fail: fail as MetricsFailure | null };
}

export const metricsDdl = `
create table if not exists local_sandbox.post_metrics (
  network        text not null,
  post_id        text not null,
  metrics        jsonb not null default '{}',
  fail           text,
  fail_remaining integer,
  primary key (network, post_id)
);
create table if not exists local_sandbox.account_metrics (
  network    text not null,
  account_id text not null,
  followers  integer,
  primary key (network, account_id)
);
`;
