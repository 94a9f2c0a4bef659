import { errorCategories, type ErrorCategory } from "../../platforms/types.js";
import { sha256Hex } from "./http.js";
import type { Grant } from "./oauth.js";
import type { SandboxContext } from "./schema.js";

/** Failure injection by the post's text (`[sandbox:<category>]`) and rate-limit windows. */

const categorySet: ReadonlySet<string> = new Set(errorCategories);

/**
 * `[sandbox:<category>]` in a post's text fails every publish of it with the network's own error for that category;
 * `[sandbox:<category>:<n>]` fails only the first n attempts of that exact text by that account.
 */
export function failureMarker(text: string): { category: ErrorCategory; failFirst?: number } | undefined {
  const match = /\[sandbox:([a-z_]+)(?::(\d+))?\]/.exec(text);
  if (!match || !categorySet.has(match[1]!)) return undefined;
  return { category: match[1] as ErrorCategory, failFirst: match[2] === undefined ? undefined : Number(match[2]) };
}

/** The category this publish attempt must fail with, counting the attempt when the marker limits failures. */
export async function injectedFailure(ctx: SandboxContext, network: string, accountId: string, text: string): Promise<ErrorCategory | undefined> {
  const marker = failureMarker(text);
  if (!marker) return undefined;
  if (marker.failFirst === undefined) return marker.category;
  const [row] = await ctx.sql<{ attempts: number }[]>`
    insert into local_sandbox.attempts (network, account_id, content_hash, attempts)
    values (${network}, ${accountId}, ${sha256Hex(text)}, 1)
    on conflict (network, account_id, content_hash) do update set attempts = local_sandbox.attempts.attempts + 1
    returning attempts`;
  return row!.attempts <= marker.failFirst ? marker.category : undefined;
}

// --- rate-limit windows --------------------------------------------------------------------------------------------

export interface RateWindow {
  limit: number;
  remaining: number;
  /** Epoch seconds when the window resets. */
  reset: number;
}

/** Counts one call in a fixed window (aligned to the epoch) and reports what is left; `exceeded` past the limit. */
export async function countCall(
  ctx: SandboxContext,
  network: string,
  bucket: string,
  limit: number,
  windowSeconds: number,
): Promise<{ window: RateWindow; exceeded: boolean }> {
  const nowSeconds = Math.floor(ctx.now().getTime() / 1000);
  const start = nowSeconds - (nowSeconds % windowSeconds);
  const [row] = await ctx.sql<{ calls: number }[]>`
    insert into local_sandbox.rate_windows (network, bucket, window_start, calls)
    values (${network}, ${bucket}, ${new Date(start * 1000)}, 1)
    on conflict (network, bucket, window_start) do update set calls = local_sandbox.rate_windows.calls + 1
    returning calls`;
  const calls = row!.calls;
  return { window: { limit, remaining: Math.max(0, limit - calls), reset: start + windowSeconds }, exceeded: calls > limit };
}

/** Why an access token is refused, as `checkAccessToken` (./oauth.ts) tells it. */
export type GrantRefusal = "unknown" | "revoked" | "expired";

/**
 * An access token's grant and, when the grant is live, one call counted in the window of `bucketPrefix` + its
 * account: `checkAccessToken` (or `accessGrant`) then `countCall`, in one statement. A refused token counts nothing,
 * as before; the caller answers the refusal or the spent window exactly as it did with the two calls.
 */
export async function grantAndCount(
  ctx: SandboxContext,
  network: string,
  token: string,
  bucketPrefix: string,
  limit: number,
  windowSeconds: number,
): Promise<{ refused: GrantRefusal; grant?: Grant } | { refused?: undefined; grant: Grant; window: RateWindow; exceeded: boolean }> {
  const now = ctx.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const start = nowSeconds - (nowSeconds % windowSeconds);
  const [row] = await ctx.sql<(Grant & { window_calls: number | null })[]>`
    with g as (select * from local_sandbox.grants where token = ${token} and network = ${network} and kind = 'access'),
    w as (
      insert into local_sandbox.rate_windows (network, bucket, window_start, calls)
      select ${network}, ${bucketPrefix} || g.account_id, ${new Date(start * 1000)}, 1 from g
      where g.revoked_at is null and (g.expires_at is null or g.expires_at > ${now})
      on conflict (network, bucket, window_start) do update set calls = local_sandbox.rate_windows.calls + 1
      returning calls
    )
    select g.*, (select calls from w) as window_calls from g`;
  if (!row) return { refused: "unknown" };
  const { window_calls: calls, ...grant } = row;
  if (grant.revoked_at) return { refused: "revoked", grant };
  if (calls === null) return { refused: "expired", grant };
  return { grant, window: { limit, remaining: Math.max(0, limit - calls), reset: start + windowSeconds }, exceeded: calls > limit };
}
