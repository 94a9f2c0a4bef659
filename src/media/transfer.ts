import { guardedFetch, MAX_REDIRECTS, OutboundError, outboundAllowLoopback, type Resolver } from "../core/net/guard.js";
import { PlatformError } from "../platforms/types.js";

/**
 * Large media, moved without holding it: the adapters that re-upload a video to its network (YouTube always; TikTok
 * when its media URL is not under a prefix TikTok pulls from) read it from Storage in byte ranges, one chunk at a
 * time, and send each chunk on before reading the next. No function ever holds more than one chunk of a video, so a
 * file of any size fits a function's memory (the networks' real limits: YouTube 256 GB or 12 hours, TikTok 4 GB).
 *
 * Time is bounded too. Netlify's synchronous functions (the queue worker) stop after 60 s and a claimed target's
 * lease lasts 120 s, so one publish attempt sends at most a slice (MEDIA_UPLOAD_SLICE_BYTES, and no new chunk after
 * SLICE_MAX_MS), then answers `processing` with where the upload stands; the queue delivers the target again at once
 * and the next attempt resumes from where the network says it got to. Each slice is a row in the job logs
 * (job_type `media_upload`) with the bytes sent so far.
 *
 * Every read goes through the outbound guard (src/core/net/guard.ts), as any media download does: the URL is a
 * customer's.
 */

/** No chunk is started after this long within one slice (a chunk takes seconds; the function has 60 s). */
export const SLICE_MAX_MS = 40_000;

/** How an upload is bounded, from the environment (MEDIA_MEMORY_BUDGET_BYTES, MEDIA_UPLOAD_SLICE_BYTES). */
export interface TransferBudget {
  /** The most media bytes held at once; a chunk is at most half of it (one chunk may linger until collected). */
  memoryBudgetBytes: number;
  /** The most bytes one publish attempt sends before the next queue delivery continues. */
  sliceBytes: number;
}

export const defaultTransferBudget: TransferBudget = { memoryBudgetBytes: 64 * 1024 * 1024, sliceBytes: 512 * 1024 * 1024 };

/** The largest chunk the budget allows, rounded down to a whole number of `unit`s (at least one unit). */
export function chunkWithin(budget: TransferBudget, wanted: number, unit = 1): number {
  const most = Math.min(wanted, Math.floor(budget.memoryBudgetBytes / 2));
  return Math.max(unit, Math.floor(most / unit) * unit);
}

export interface RangeRead {
  bytes: Uint8Array;
  /** The file's whole size, from `Content-Range` (or the body, for a host that sent it whole). */
  total: number;
  contentType: string | undefined;
}

export interface RangeReadOptions {
  timeoutMs: number;
  /**
   * From offset 0 only: a host that ignores ranges may send the whole file if it is at most this many bytes (the
   * memory budget), which is then the only read. Larger files need a host that serves byte ranges (Storage does).
   */
  wholeUpTo?: number;
  allowLoopback?: boolean;
  resolve?: Resolver;
}

/**
 * Reads bytes `[offset, offset + length)` of the media at `url` (fewer at the end of the file) with one Range request
 * through the outbound guard, which never reads more than `length` bytes of the body. A host that ignores ranges and
 * sends the whole file is accepted only from offset 0 and when the whole file fits in `wholeUpTo` (then it is the only
 * read: the caller holds the file, within its budget); otherwise it is a media_error naming the need for ranges.
 */
export async function readMediaRange(url: string, offset: number, length: number, options: RangeReadOptions): Promise<RangeRead> {
  const what = `media download ${pathOf(url)}`;
  let res;
  try {
    res = await guardedFetch({
      url,
      method: "GET",
      headers: { "user-agent": "AmplifyScheduler-Media/1.0", accept: "*/*", range: `bytes=${offset}-${offset + length - 1}` },
      timeoutMs: options.timeoutMs,
      maxBytes: offset === 0 ? Math.max(length, options.wholeUpTo ?? 0) : length,
      maxRedirects: MAX_REDIRECTS,
      allowLoopback: options.allowLoopback ?? outboundAllowLoopback(),
      resolve: options.resolve,
    });
  } catch (error) {
    if (error instanceof OutboundError && error.kind === "too_large") {
      throw new PlatformError("media_error", `${what}: the host ignores byte ranges, which media this large needs (Supabase Storage and CDNs serve them)`);
    }
    throw readFailure(what, options.timeoutMs, error);
  }
  const type = res.headers["content-type"];
  const contentType = (Array.isArray(type) ? type[0] : type)?.split(";")[0]?.trim().toLowerCase() || undefined;
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""));
    if (!range || Number(range[1]) !== offset || Number(range[2]) - offset + 1 !== res.body.byteLength) {
      throw new PlatformError("media_error", `${what} answered a byte range other than the one asked for`);
    }
    return { bytes: res.body, total: Number(range[3]), contentType };
  }
  if (res.status === 200 && offset === 0) return { bytes: res.body, total: res.body.byteLength, contentType };
  if (res.status === 416) throw new PlatformError("media_error", `${what}: the file is shorter than it was (now under ${offset} bytes)`);
  throw new PlatformError("media_error", `${what} answered ${res.status}`, { status: res.status });
}

function readFailure(what: string, timeoutMs: number, error: unknown): PlatformError {
  if (!(error instanceof OutboundError)) return new PlatformError("network_error", `${what} failed`);
  switch (error.kind) {
    case "refused":
    case "redirect":
      return new PlatformError("media_error", `${what} refused: ${error.message}`);
    case "timeout":
      return new PlatformError("network_error", `${what} did not finish within ${timeoutMs} ms`);
    default:
      return new PlatformError("network_error", `${what} failed: the media host could not be reached`);
  }
}

/** The path of a URL for messages: never the query, which may carry tokens. */
function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "(invalid url)";
  }
}

/**
 * One slice's allowance: `more(nextChunkBytes)` says whether another chunk may start (within the slice's bytes and
 * time); `sent` counts what went out. The first chunk of a slice always may, so every slice makes progress.
 */
export function sliceAllowance(budget: TransferBudget, now: () => number = () => performance.now()) {
  const started = now();
  let sent = 0;
  return {
    more(next: number): boolean {
      if (sent === 0) return true;
      return sent + next <= budget.sliceBytes && now() - started < SLICE_MAX_MS;
    },
    sent(bytes: number) {
      sent += bytes;
    },
    get bytes() {
      return sent;
    },
  };
}
