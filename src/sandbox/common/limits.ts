import { errorCategories, type ErrorCategory } from "../../platforms/types.js";
import { sha256Hex } from "./http.js";
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
