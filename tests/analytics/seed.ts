import type postgres from "postgres";

/**
 * Seeding for the analytics endpoint tests: posts, published targets and metric snapshots written with admin SQL as
 * the sync job would, plus the independent arithmetic the tests check the endpoints against. Nothing here imports the
 * endpoints' code: expected values are computed from the seeded numbers directly.
 */

export interface Capture {
  at: Date;
  impressions: number | null;
  reach: number | null;
  likes: number;
  comments: number;
  shares: number;
  saves: number;
  clicks: number | null;
  videoViews: number | null;
}

export interface SeededTarget {
  postId: string;
  targetId: string;
  platform: string;
  connectionId: string | null;
  publishedAt: Date;
  captures: Capture[];
  content: string;
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const engagementsOf = (c: Capture) => c.likes + c.comments + c.shares + c.saves;
export const baseOf = (c: Capture) => [c.impressions, c.reach, c.videoViews].find((v) => v !== null && v > 0) ?? null;
export const rateOf = (c: Capture) => {
  const base = baseOf(c);
  return base === null ? null : Math.round((engagementsOf(c) / base) * 1e6) / 1e6;
};

/** A small deterministic generator (mulberry32). */
export function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Cumulative counts that rise quickly and level off (engagement saturates faster than impressions, so the engagement
 * rate peaks early and decays), captured at the given hours after publishing that are already in the past.
 */
export function curve(publishedAt: Date, now: Date, random: () => number, options: { impressions: boolean; hours?: number[] }): Capture[] {
  const total = 40 + Math.floor(random() * 400);
  const tau = 2 + random() * 20;
  const hours = options.hours ?? [1, 3, 6, 12, 24, 30, 48, 96, 200];
  return hours
    .map((h) => new Date(publishedAt.getTime() + h * HOUR))
    .filter((at) => at.getTime() <= now.getTime() - 60_000)
    .map((at) => {
      const h = (at.getTime() - publishedAt.getTime()) / HOUR;
      const e = total * (1 - Math.exp(-h / tau));
      const likes = Math.round(e * 0.6);
      const comments = Math.round(e * 0.2);
      const shares = Math.round(e * 0.15);
      const saves = Math.round(e * 0.05);
      const impressions = options.impressions ? Math.round(total * 30 * (1 - Math.exp(-h / (tau * 3)))) + 10 : null;
      return { at, impressions, reach: impressions === null ? null : Math.round(impressions * 0.7), likes, comments, shares, saves, clicks: options.impressions ? Math.round(e * 0.3) : null, videoViews: null };
    });
}

export async function insertPost(sql: postgres.Sql, profileId: string, content: string, status: string, at: Date): Promise<string> {
  const [p] = await sql<{ id: string }[]>`
    insert into public.posts (profile_id, content, status, scheduled_for, published_at, created_at)
    values (${profileId}, ${content}, ${status}, ${at}, ${status === "published" ? at : null}, ${at}) returning id`;
  return p!.id;
}

export async function insertTarget(
  sql: postgres.Sql,
  t: { postId: string; profileId: string; platform: string; connectionId: string | null; status: string; publishedAt: Date | null; createdAt: Date },
): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into public.post_targets (post_id, profile_id, platform, connection_id, status, scheduled_for, due_at, published_at,
                                     external_post_id, external_url, created_at, attempts)
    values (${t.postId}, ${t.profileId}, ${t.platform}, ${t.connectionId}, ${t.status}, ${t.createdAt}, ${t.createdAt}, ${t.publishedAt},
            ${t.status === "published" ? `ext-${Math.random().toString(36).slice(2)}` : null},
            ${t.status === "published" ? `https://${t.platform}.example/p/${Math.random().toString(36).slice(2)}` : null},
            ${t.createdAt}, ${t.status === "pending" ? 0 : 1})
    returning id`;
  return row!.id;
}

export async function insertCaptures(sql: postgres.Sql, profileId: string, target: SeededTarget, captures = target.captures): Promise<void> {
  if (!captures.length) return;
  const rows = captures.map((c) => ({
    profile_id: profileId,
    post_id: target.postId,
    target_id: target.targetId,
    connection_id: target.connectionId,
    platform: target.platform,
    published_at: target.publishedAt,
    captured_at: c.at,
    impressions: c.impressions,
    reach: c.reach,
    likes: c.likes,
    comments: c.comments,
    shares: c.shares,
    saves: c.saves,
    clicks: c.clicks,
    video_views: c.videoViews,
    engagements: engagementsOf(c),
    engagement_rate: rateOf(c),
  }));
  await sql`insert into public.post_metric_snapshots ${sql(rows)}`;
}

// --- independent arithmetic -------------------------------------------------------------------------------------------

export const latest = (t: SeededTarget) => t.captures[t.captures.length - 1]!;

export function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = (s.length - 1) / 2;
  return (s[Math.floor(mid)]! + s[Math.ceil(mid)]!) / 2;
}

export const round2 = (n: number) => Math.round(n * 100) / 100;
export const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/** Per target: what content decay reads from its series. */
export function decayOf(t: SeededTarget) {
  const p = t.publishedAt.getTime();
  let prevE = 0;
  let prevAt = p;
  let fastest = { v: -Infinity, at: 0 };
  for (const c of t.captures) {
    const e = engagementsOf(c);
    const v = (e - prevE) / Math.max((c.at.getTime() - prevAt) / HOUR, 1 / 60);
    if (v > fastest.v) fastest = { v, at: c.at.getTime() };
    prevE = e;
    prevAt = c.at.getTime();
  }
  const last = engagementsOf(latest(t));
  const half = last > 0 ? t.captures.find((c) => engagementsOf(c) * 2 >= last)!.at.getTime() : null;
  const past24 = t.captures.some((c) => c.at.getTime() > p + DAY);
  const within = t.captures.filter((c) => c.at.getTime() <= p + DAY);
  const e24 = past24 ? (within.length ? engagementsOf(within[within.length - 1]!) : 0) : null;
  const rates = t.captures.map(rateOf);
  const rated = rates.filter((r): r is number => r !== null);
  const peak = rated.length ? Math.max(...rated) : null;
  const peakAt = peak === null ? null : t.captures[rates.indexOf(peak)]!.at;
  const latestRate = rateOf(latest(t));
  return {
    snapshots: t.captures.length,
    engagements: last,
    hoursToPeak: (fastest.at - p) / HOUR,
    halfLife: half === null ? null : (half - p) / HOUR,
    e24,
    peak,
    peakAt,
    latestRate,
    decay: peak !== null && peak > 0 && latestRate !== null && t.captures.length >= 2 ? (peak - latestRate) / peak : null,
  };
}

export function localParts(at: Date, timezone: string) {
  const date = new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: timezone, weekday: "short", hour: "2-digit", hourCycle: "h23" }).formatToParts(at);
  const weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(parts.find((p) => p.type === "weekday")!.value);
  const hour = Number(parts.find((p) => p.type === "hour")!.value);
  return { date, dayOfWeek: weekday, hour };
}

/** Local midnight `days - 1` days before `now`'s local date, as an instant. */
export function windowStart(now: Date, days: number, timezone: string): Date {
  const { date } = localParts(now, timezone);
  const [y, m, d] = date.split("-").map(Number);
  const target = new Date(Date.UTC(y!, m! - 1, d! - (days - 1)));
  const wanted = target.toISOString().slice(0, 10);
  const clock = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  // Zones are at most 14 h from UTC and offsets are multiples of 15 minutes: try each.
  for (let quarter = -14 * 4; quarter <= 14 * 4; quarter++) {
    const at = new Date(target.getTime() - quarter * 15 * 60_000);
    if (localParts(at, timezone).date === wanted && clock.format(at) === "00:00") return at;
  }
  throw new Error("no local midnight found");
}
