import type { z } from "zod";
import { emptyMetrics } from "../analytics/model.js";
import { PlatformError, type PostMetricsResult, type PostMetricValues } from "./types.js";

/** What every adapter's metrics call shares: batching, the "not the documented shape" failure, and results. */

/** `items` in batches of at most `size` (networks cap ids per call). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * A 2xx answer that is not the network's documented shape: recorded as a failed sync of the account (the network
 * changed or something between us answered), never trusted as numbers.
 */
export function invalidResponse(service: string, status: number, error?: z.ZodError): PlatformError {
  const where = error?.issues[0] ? ` (${error.issues[0].path.join(".") || "body"}: ${error.issues[0].message})` : "";
  return new PlatformError("unknown", `${service} answered ${status} with a body that is not its metrics format${where}`, {
    status,
    platformCode: "invalid_response",
  });
}

/** A post's result from mapped counts (unset counts stay null: unknown) and the network's own fields. */
export function measured(externalPostId: string, counts: Partial<PostMetricValues>, raw: unknown): PostMetricsResult {
  return { externalPostId, metrics: { ...emptyMetrics(), ...counts }, raw: (raw ?? {}) as Record<string, unknown> };
}

export function unavailable(externalPostId: string, reason: string, raw?: unknown): PostMetricsResult {
  return { externalPostId, unavailable: reason, ...(raw ? { raw: raw as Record<string, unknown> } : {}) };
}
