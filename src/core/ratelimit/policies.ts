import { z } from "zod";

/**
 * The rate limits the API publishes (1,000 API requests an hour per key, 100 posts and 50 media uploads an hour per
 * profile), as named policies. Each counts requests per identifier in a fixed
 * window: the API-request policy per API key, the posting and media policies per profile. `RATE_LIMIT_OVERRIDES`
 * replaces a policy's limit or window for local demos and tests; production runs the table as written.
 */
export const rateLimitTable = {
  api_requests: { limit: 1000, window: "1h", counts: "API requests", per: "API key" },
  posts: { limit: 100, window: "1h", counts: "posts", per: "profile" },
  media_uploads: { limit: 50, window: "1h", counts: "media uploads", per: "profile" },
  // POST /api/v1/analytics/sync: each asks every account of the profile for its metrics now.
  analytics_sync: { limit: 10, window: "1h", counts: "analytics sync requests", per: "profile" },
} as const satisfies Record<string, { limit: number; window: string; counts: string; per: string }>;

export type RateLimitPolicyName = keyof typeof rateLimitTable;

/** A policy as the limiters use it: a name, how many per window, and the window in milliseconds. */
export interface RateLimitPolicy {
  name: string;
  limit: number;
  windowMs: number;
  /** What is counted and per what, for error messages ("API requests", "API key"). */
  counts: string;
  per: string;
}

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+)\s?(ms|s|m|h|d)$/;

/** "1h" → 3600000. The same notation as @upstash/ratelimit's durations. */
export function durationMs(text: string): number {
  const match = durationPattern.exec(text.trim());
  if (!match) throw new Error(`not a duration: '${text}' (use e.g. 500ms, 30s, 5m, 1h, 1d)`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}

/** 3600000 → "1 hour", for messages. */
export function describeWindow(windowMs: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"], [1000, "second"]];
  for (const [ms, unit] of units) {
    if (windowMs % ms === 0) {
      const n = windowMs / ms;
      return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
    }
  }
  return `${windowMs} ms`;
}

const policyNames = Object.keys(rateLimitTable) as [RateLimitPolicyName, ...RateLimitPolicyName[]];

const overrideSchema = z.object({
  name: z.enum(policyNames),
  limit: z.coerce.number().int().min(1),
  window: z.string().regex(durationPattern, "window must look like 500ms, 30s, 5m, 1h or 1d").optional(),
});

/** `api_requests=5/1m, posts=3` → the overrides it names. Throws a readable error naming the bad entry. */
function parseOverrides(text: string) {
  return text
    .split(/[,;\s]+/)
    .filter(Boolean)
    .map((entry) => {
      const match = /^([^=]+)=(\d+)(?:\/(.+))?$/.exec(entry);
      const parsed = overrideSchema.safeParse({ name: match?.[1], limit: match?.[2], window: match?.[3] });
      if (!match || !parsed.success) {
        const why = parsed.success ? "expected policy=limit/window" : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
        throw new Error(`Invalid environment: RATE_LIMIT_OVERRIDES entry '${entry}' (${why}; e.g. api_requests=5/1m)`);
      }
      return parsed.data;
    });
}

/** The policy table with `RATE_LIMIT_OVERRIDES` applied. Throws a readable error for a malformed value. */
export function resolvePolicies(overrides: string | undefined): Record<RateLimitPolicyName, RateLimitPolicy> {
  const resolved = Object.fromEntries(
    policyNames.map((name) => {
      const p = rateLimitTable[name];
      return [name, { name, limit: p.limit, windowMs: durationMs(p.window), counts: p.counts, per: p.per }];
    }),
  ) as Record<RateLimitPolicyName, RateLimitPolicy>;
  for (const o of overrides ? parseOverrides(overrides) : []) {
    const current = resolved[o.name];
    resolved[o.name] = { ...current, limit: o.limit, windowMs: o.window ? durationMs(o.window) : current.windowMs };
  }
  return resolved;
}
