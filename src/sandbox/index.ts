import type postgres from "postgres";
import type { FetchHandler } from "../local/server.js";
import { ensureSandboxSchema, json, type NetworkHandler, type SandboxContext } from "./common.js";
import { createInstagramSandbox } from "./instagram.js";
import { createBlueskySandbox } from "./bluesky.js";
import { createFacebookSandbox } from "./facebook/index.js";
import { createLinkedInSandbox } from "./linkedin.js";
import { createPinterestSandbox } from "./pinterest.js";
import { createRedditSandbox } from "./reddit.js";
import { createThreadsSandbox } from "./threads.js";
import { createTikTokSandbox } from "./tiktok.js";
import { createTwitterSandbox } from "./twitter.js";
import { createYouTubeSandbox } from "./youtube.js";
import { sandboxClock } from "./common/clock.js";
import { isSandboxNetwork, loadRegisteredApps, registeredAppsControl } from "./clients.js";

/**
 * Sandbox platforms: emulations of each network's HTTP API (OAuth consent and token endpoints, publish, media, real
 * error bodies and headers), mounted at /sandbox. `/sandbox/<network>` stands in for both the network's consent host
 * and its API host, at the same paths: pointed here (src/local/platforms.ts), the production adapters run unchanged against
 * it. State (accounts, codes, tokens, posts, media) is durable in Postgres in the `local_sandbox` schema, so a restart
 * of the local home keeps issued tokens and published posts.
 *
 * Consent: a plain GET of the authorize URL approves at once and 302s to `redirect_uri?code=…&state=…` (`curl -L`
 * works). Add `sandbox_user=<name>` to sign in as that user (created on first use), `sandbox_deny=1` to decline
 * (X: `error=access_denied`; LinkedIn: `error=user_cancelled_authorize`; Instagram, Threads: `error=access_denied` with
 * `error_reason=user_denied`). Instagram also takes `sandbox_account_type=personal|business|creator`. Facebook
 * (`error=access_denied`, `error_reason=user_denied`) also takes `sandbox_pages=<n>` (Pages a new user manages, 0–5,
 * default 1) and `sandbox_decline=<permission,…>` (permissions the user unticks, e.g. `pages_manage_posts`).
 *
 * Failure injection, by the post's text:
 *   [sandbox:<category>]      every publish of the text fails with the network's own error for the category
 *   [sandbox:<category>:<n>]  only the first n attempts of that exact text by that account fail
 * Categories: rate_limited (X: 429 with `x-rate-limit-reset` 3 s ahead; LinkedIn: 429 serviceErrorCode 101),
 * auth_error (401), network_error (503), duplicate, media_error / media_processing (the post is refused for its
 * media and the media's status shows failed / still processing; these need a post with media), unknown.
 * Instagram and Threads (Graph envelopes, src/sandbox/meta-graph.ts): rate_limited (Instagram: code 80002 with
 * `X-Business-Use-Case-Usage` regaining access in a minute; Threads: code 17), auth_error (code 190/463),
 * network_error (500 code 2), unknown (a restricted action), duplicate (506 at publish); media_error makes the
 * container's status ERROR, and media_processing leaves it IN_PROGRESS for ever (the executor's bounded wait ends it).
 * Pinterest: rate_limited (429 code 8), auth_error (401 code 2), network_error (503), media_error (403 code 235,
 * "image is broken"), unknown (400 code 1). Reddit: rate_limited (HTTP 200 `json.errors` RATELIMIT with
 * `json.ratelimit` 3 s), auth_error (401), network_error (503), duplicate (ALREADY_SUB), unknown (SUBREDDIT_NOEXIST).
 * Bluesky: rate_limited (429 RateLimitExceeded, `ratelimit-reset` 3 s ahead), auth_error (400 ExpiredToken),
 * network_error (502 UpstreamFailure), media_error (400 BlobNotFound), unknown (400 InvalidRequest). A marker for a
 * category the network has no error for (Pinterest and Bluesky: duplicate, media_processing; Reddit self posts:
 * media_error, media_processing) is ignored there: the sandbox does not invent errors, and the post is published.
 * Facebook: rate_limited (code 80001, `X-Business-Use-Case-Usage` regaining access in a minute), auth_error (190/460),
 * network_error (500 code 2), duplicate (506), unknown (100/1349125); media_error refuses a photo (324) and fails a
 * video's processing (status `error`); media_processing leaves a video `processing` for ever (videos only).
 * TikTok (envelope `error.code`, video/init): rate_limited (429 rate_limit_exceeded), auth_error (401
 * access_token_invalid), network_error (500 internal_error), unknown (400 invalid_params); media_error makes the
 * publish FAILED (file_format_check_failed) and media_processing leaves it PROCESSING_UPLOAD for ever; TikTok has no
 * duplicate error (ignored). YouTube (Google envelope, the upload session POST): rate_limited (403 quotaExceeded),
 * auth_error (401 authError), network_error (503 backendError), unknown (400 invalidVideoMetadata); in processing,
 * media_error → uploadStatus failed, duplicate → rejected (rejectionReason duplicate), media_processing → processing
 * for ever. Both need a post with a video (src/sandbox/tiktok.ts, src/sandbox/youtube.ts).
 *
 * Control endpoints, for tests and manual checks (local only; they would need protecting in a hosted test mode):
 *   GET  /sandbox/<network>/__sandbox/accounts                                   accounts that signed in
 *   GET  /sandbox/<network>/__sandbox/posts[?account_id=<id>]                    published posts: { posts: [{ id,
 *                                                                                accountId, text, media[], createdAt }] }
 *   GET  /sandbox/<network>/__sandbox/media[?account_id=<id>]                    uploaded media and their states
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/expire-access-tokens         the account's access tokens expire now
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/revoke-refresh-tokens        its refresh tokens stop working
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/revoke-all-tokens            the member removed the app
 *   POST /sandbox/<network>/__sandbox/posts/<post id>/metrics                    set a post's metrics and/or a failure of its
 *                                                                                metrics calls (src/sandbox/common/metrics.ts)
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/followers  {"followers": n}    set an account's follower count
 * Metrics: every network's insights endpoint answers with simulated metrics (deterministic per post, rising, peaking
 * and decaying; src/sandbox/common/metrics.ts); `[sandbox-metrics:<category>[:<n>]]` in a post's text fails its
 * metrics calls (rate_limited, auth_error, network_error, unknown, garbage) without touching publishing.
 * `<id>` is the network's account id as the adapter reports it (X user id; LinkedIn `urn:li:person:<sub>` or `<sub>`;
 * Instagram `user_id`; Threads user id). Instagram and Threads have no refresh tokens (a live long-lived token refreshes
 * itself), so `revoke-all-tokens` is the one that stops refreshes there. Instagram only:
 *   POST /sandbox/instagram/__sandbox/accounts/<id>/account-type?type=PERSONAL|BUSINESS|MEDIA_CREATOR
 * Pinterest (account id), Reddit (account id, without `t2_`), Bluesky (the DID). Bluesky has no consent page: signing
 * in (`com.atproto.server.createSession`) as a new handle with an app-password-shaped password creates the account,
 * and that password is then its app password (see src/sandbox/bluesky.ts). Bluesky only:
 *   POST /sandbox/bluesky/__sandbox/accounts/<did>/deactivate                     the account is deactivated
 * Facebook: `<id>` is a Page id (its Page tokens; its owner's user tokens for the refresh actions) or a user id.
 * Facebook only:
 *   POST /sandbox/facebook/__sandbox/accounts/<page-id>/exhaust-page-quota       the Page's hourly window is spent
 *   GET  /sandbox/facebook/__sandbox/pages[?owner_id=<user id>]                  the users' Pages
 * TikTok: `<id>` is the open_id; `sandbox_user=banned…` cannot post, `sandbox_user=private…` has a private account.
 * TikTok only (the developer portal's verified URL prefixes for PULL_FROM_URL; the home's public storage is one):
 *   GET|POST /sandbox/tiktok/__sandbox/verified-url-prefixes  {"prefix": "https://…/"}
 * YouTube: `<id>` is the channel id (`UC…`). Its registered client is an unaudited API project: uploads end private.
 * The sandboxes' clock (src/sandbox/common/clock.ts), one per home: tokens expire as it moves (tests move it with the
 * home's own clock to go through token expiries):
 *   GET|POST /sandbox/__sandbox/clock  {"advanceSeconds": n} | {"offsetSeconds": n}
 * Every network with OAuth apps (the developer portal; src/sandbox/clients.ts):
 *   POST /sandbox/<network>/__sandbox/apps  {"name": "…"}                        registers an app: { clientId, clientSecret }
 *   GET  /sandbox/<network>/__sandbox/apps                                       the apps registered so far
 */
export async function createSandboxPlatforms(options: {
  sql: postgres.Sql;
  /** Public URL of the mount, e.g. `http://localhost:8888/sandbox`. */
  baseUrl: string;
  now?: () => Date;
}): Promise<FetchHandler> {
  await ensureSandboxSchema(options.sql);
  await loadRegisteredApps(options.sql);
  const baseUrl = options.baseUrl.replace(/\/$/, "");
  const mountPath = new URL(baseUrl).pathname;
  const clock = sandboxClock(options.now);
  const context = (network: string): SandboxContext => ({
    sql: options.sql,
    baseUrl: `${baseUrl}/${network}`,
    now: clock.now,
  });
  const networks: Record<string, NetworkHandler> = {
    twitter: createTwitterSandbox(context("twitter")),
    linkedin: createLinkedInSandbox(context("linkedin")),
    tiktok: createTikTokSandbox(context("tiktok")),
    youtube: createYouTubeSandbox(context("youtube")),
    instagram: createInstagramSandbox(context("instagram")),
    facebook: createFacebookSandbox(context("facebook")),
    threads: createThreadsSandbox(context("threads")),
    pinterest: createPinterestSandbox(context("pinterest")),
    reddit: createRedditSandbox(context("reddit")),
    bluesky: createBlueskySandbox(context("bluesky")),
  };

  return async (req) => {
    const { pathname } = new URL(req.url);
    const rest = pathname.startsWith(mountPath) ? pathname.slice(mountPath.length) : pathname;
    if (rest === "/__sandbox/clock") return clock.control(req);
    const match = /^\/([a-z]+)(\/.*)?$/.exec(rest);
    const handler = match && Object.hasOwn(networks, match[1]!) ? networks[match[1]!] : undefined;
    if (!handler) return json(404, { error: "Unknown sandbox network", networks: Object.keys(networks) });
    // The developer portal's app registrations (src/sandbox/clients.ts), the same for every network.
    if (match![2] === "/__sandbox/apps" && isSandboxNetwork(match![1]!)) return registeredAppsControl(options.sql, match![1]!, req);
    return handler(req, match![2] ?? "/");
  };
}
