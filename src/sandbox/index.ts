import type postgres from "postgres";
import type { FetchHandler } from "../local/server.js";
import { ensureSandboxSchema, json, type NetworkHandler, type SandboxContext } from "./common.js";
import { createLinkedInSandbox } from "./linkedin.js";
import { createTwitterSandbox } from "./twitter.js";

/**
 * Sandbox platforms: emulations of each network's HTTP API (OAuth consent and token endpoints, publish, media, real
 * error bodies and headers), mounted at /sandbox. `/sandbox/<network>` stands in for both the network's consent host
 * and its API host, at the same paths: with PLATFORM_SANDBOX_URL set, the production adapters run unchanged against
 * it. State (accounts, codes, tokens, posts, media) is durable in Postgres in the `local_sandbox` schema, so a restart
 * of the local home keeps issued tokens and published posts.
 *
 * Consent: a plain GET of the authorize URL approves at once and 302s to `redirect_uri?code=…&state=…` (`curl -L`
 * works). Add `sandbox_user=<name>` to sign in as that user (created on first use), `sandbox_deny=1` to decline
 * (X: `error=access_denied`; LinkedIn: `error=user_cancelled_authorize`).
 *
 * Failure injection, by the post's text:
 *   [sandbox:<category>]      every publish of the text fails with the network's own error for the category
 *   [sandbox:<category>:<n>]  only the first n attempts of that exact text by that account fail
 * Categories: rate_limited (X: 429 with `x-rate-limit-reset` 3 s ahead; LinkedIn: 429 serviceErrorCode 101),
 * auth_error (401), network_error (503), duplicate, media_error / media_processing (the post is refused for its
 * media and the media's status shows failed / still processing; these need a post with media), unknown.
 *
 * Control endpoints, for tests and manual checks (local only; they would need protecting in a hosted test mode):
 *   GET  /sandbox/<network>/__sandbox/accounts                                   accounts that signed in
 *   GET  /sandbox/<network>/__sandbox/posts[?account_id=<id>]                    published posts: { posts: [{ id,
 *                                                                                accountId, text, media[], createdAt }] }
 *   GET  /sandbox/<network>/__sandbox/media[?account_id=<id>]                    uploaded media and their states
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/expire-access-tokens         the account's access tokens expire now
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/revoke-refresh-tokens        its refresh tokens stop working
 *   POST /sandbox/<network>/__sandbox/accounts/<id>/revoke-all-tokens            the member removed the app
 * `<id>` is the network's account id as the adapter reports it (X user id; LinkedIn `urn:li:person:<sub>` or `<sub>`).
 */
export async function createSandboxPlatforms(options: {
  sql: postgres.Sql;
  /** Public URL of the mount, e.g. `http://localhost:8888/sandbox`. */
  baseUrl: string;
  now?: () => Date;
}): Promise<FetchHandler> {
  await ensureSandboxSchema(options.sql);
  const baseUrl = options.baseUrl.replace(/\/$/, "");
  const mountPath = new URL(baseUrl).pathname;
  const context = (network: string): SandboxContext => ({
    sql: options.sql,
    baseUrl: `${baseUrl}/${network}`,
    now: options.now ?? (() => new Date()),
  });
  const networks: Record<string, NetworkHandler> = {
    twitter: createTwitterSandbox(context("twitter")),
    linkedin: createLinkedInSandbox(context("linkedin")),
  };

  return async (req) => {
    const { pathname } = new URL(req.url);
    const rest = pathname.startsWith(mountPath) ? pathname.slice(mountPath.length) : pathname;
    const match = /^\/([a-z]+)(\/.*)?$/.exec(rest);
    const handler = match && Object.hasOwn(networks, match[1]!) ? networks[match[1]!] : undefined;
    if (!handler) return json(404, { error: "Unknown sandbox network", networks: Object.keys(networks) });
    return handler(req, match![2] ?? "/");
  };
}
