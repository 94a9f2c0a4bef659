import { LOOKAHEAD_SECONDS } from "../core/jobs/outbox.js";
import type { Platform } from "../platforms/catalog.js";

/**
 * Which targets of a publish-now post are published inline, in the request that creates them, rather than handed to
 * the queue (the rest of the mechanism: ./inline.ts).
 *
 * Networks whose publish call answers with the post itself for text and images: X, LinkedIn, Facebook, Threads,
 * Pinterest, Reddit and Bluesky. Instagram (every post is a media container Meta fetches and processes) and the
 * video networks (TikTok, YouTube; and video anywhere) finish later: they go through the queue, which follows them.
 */
export const INLINE_NETWORKS: ReadonlySet<Platform> = new Set<Platform>(["twitter", "linkedin", "facebook", "threads", "pinterest", "reddit", "bluesky"]);

/** Media an inline attempt may carry: images only, of a declared total size up to this (X's own image limit). */
export const INLINE_MAX_MEDIA_BYTES = 5 * 1024 * 1024;

/**
 * How long the request waits for its inline attempts. One still running then goes on in the background (its claim
 * and lease are the queue's: see ./inline.ts) and the answer shows its target `publishing`.
 */
export const INLINE_BUDGET_MS = 2_500;

/**
 * A target to be published inline is created due this far ahead, beyond the sweep's lookahead, so neither the sweep
 * nor a queue message touches it while the request publishes it. Should the request die before its claim, the target
 * falls due then and the sweep publishes it like any other.
 */
export const INLINE_RESERVE_SECONDS = LOOKAHEAD_SECONDS + 60;

export interface InlineMedia {
  mimeType: string;
  fileSize: number | null;
}

/** Whether a publish-now target to `platform` with `media` is published in the request. */
export function publishesInline(platform: Platform, media: readonly InlineMedia[]): boolean {
  if (!INLINE_NETWORKS.has(platform)) return false;
  if (!media.length) return true;
  // An image by URL whose size was not declared is fetched by the adapter, which enforces the network's own limit;
  // the time budget below bounds how long the request waits for it.
  if (!media.every((m) => m.mimeType.startsWith("image/"))) return false;
  return media.reduce((sum, m) => sum + (m.fileSize ?? 0), 0) <= INLINE_MAX_MEDIA_BYTES;
}
