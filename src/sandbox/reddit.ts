import { randomInt } from "node:crypto";
import type { ErrorCategory } from "../platforms/types.js";
import { registeredClients } from "./clients.js";
import {
  dispatcher,
  authorize,
  checkAccessToken,
  countCall,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  readForm,
  recordPost,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  Reply,
  tokenEndpoint,
  type Grant,
  type NetworkHandler,
  type RateWindow,
  type SandboxContext,
} from "./common.js";
import { networkTables } from "./network-tables.js";

/**
 * The Reddit sandbox, at the paths the adapter calls on www.reddit.com and oauth.reddit.com:
 *
 *   GET  /api/v1/authorize        consent (`duration=temporary|permanent` required; no PKCE), approves at once
 *   POST /api/v1/access_token     authorization_code and refresh_token grants, HTTP Basic client auth; a refresh
 *                                 token only for `duration=permanent`, reused as is (not rotated)
 *   GET  /api/v1/me               the signed-in user (scope `identity`)
 *   POST /api/submit              self posts (`kind=self`, scope `submit`); failures are HTTP 200 with `json.errors`
 *   GET  /api/info?id=t3_…        the submitted posts (scope `read`)
 *
 * Every call must carry a descriptive User-Agent: none, or a library default (node, undici, curl, python-requests…),
 * is answered 429 as Reddit throttles them. Every oauth API answer carries `X-Ratelimit-Used/-Remaining/-Reset`
 * (seconds until the 10-minute window ends, 1,000 calls per user); a spent window is a real 429.
 * Reddit allows the same self post twice and self posts have no media, so only `[sandbox:duplicate]` (answered with
 * ALREADY_SUB, Reddit's duplicate error for links) is emulated of those; `[sandbox:media_error]` and
 * `[sandbox:media_processing]` are ignored (the post is published).
 */

const NETWORK = "reddit";
const clients = registeredClients("reddit");

export const redditSandboxConfig = {
  accessTokenSeconds: 86_400,
  codeSeconds: 10 * 60,
  titleMaxChars: 300,
  textMaxChars: 40_000,
  /** Calls per user per 10-minute window (100 a minute, averaged over 10 minutes). */
  callsPerWindow: 1000,
  windowSeconds: 600,
  /** How far ahead an injected RATELIMIT lifts. */
  injectedRatelimitSeconds: 3,
  scopes: new Set(["identity", "submit", "read", "edit", "flair", "history", "mysubreddits", "privatemessages", "save", "vote", "modposts"]),
} as const;

/** The categories Reddit has an answer for when submitting a self post. */
const injectable: ReadonlySet<ErrorCategory> = new Set(["rate_limited", "auth_error", "network_error", "duplicate", "unknown"]);
const GENERIC_AGENT = /^(node|undici|curl|wget|python-requests|python-urllib|go-http-client|axios|okhttp|java|libwww-perl)\b/i;

const status = (code: number, message: string) => ({ message, error: code });
const submitErrors = (errors: [string, string, string | null][], extra: Record<string, unknown> = {}) => ({ json: { ...extra, errors } });

const ddl = `
create table if not exists local_sandbox.reddit_codes (
  code     text primary key,
  duration text not null
);
create table if not exists local_sandbox.reddit_posts (
  name       text primary key,
  account_id text not null,
  subreddit  text not null,
  title      text not null,
  selftext   text not null,
  flair_id   text,
  over_18    boolean not null default false,
  spoiler    boolean not null default false,
  created_at timestamptz not null default now()
);`;

interface Call {
  window?: RateWindow;
}

export function createRedditSandbox(ctx: SandboxContext): NetworkHandler {
  const ready = networkTables(ctx.sql, NETWORK, ddl);

  async function authenticated(req: Request, call: Call, scope: string): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) {
      throw new Reply(json(401, status(401, "Unauthorized"), { "www-authenticate": 'Bearer realm="reddit", error="invalid_token"' }));
    }
    const counted = await countCall(ctx, NETWORK, `api:${check.grant.account_id}`, redditSandboxConfig.callsPerWindow, redditSandboxConfig.windowSeconds);
    call.window = counted.window;
    if (counted.exceeded) throw new Reply(json(429, status(429, "Too Many Requests")));
    if (!check.grant.scopes.includes(scope)) {
      throw new Reply(json(403, status(403, "Forbidden"), { "www-authenticate": 'Bearer realm="reddit", error="insufficient_scope"' }));
    }
    return check.grant;
  }

  async function consent(req: Request): Promise<Response> {
    const duration = new URL(req.url).searchParams.get("duration");
    if (duration !== "temporary" && duration !== "permanent") {
      return htmlPage(400, "reddit.com: bad request", "invalid duration: duration must be temporary or permanent");
    }
    const res = await authorize(ctx, req, {
      network: NETWORK,
      clients,
      pkce: "ignored",
      scopeSeparator: /[\s,+]+/,
      knownScopes: redditSandboxConfig.scopes,
      codeTtlSeconds: redditSandboxConfig.codeSeconds,
      denial: { error: "access_denied" },
      newAccount: (username) => ({ id: base36(randomInt(36 ** 6, 36 ** 8)), name: username }),
      errorPage: (message) => htmlPage(400, "reddit.com: bad request", message),
    });
    const code = res.headers.get("location") ? new URL(res.headers.get("location")!).searchParams.get("code") : null;
    if (code) await ctx.sql`insert into local_sandbox.reddit_codes (code, duration) values (${code}, ${duration})`;
    return res;
  }

  const accessToken = (req: Request) =>
    tokenEndpoint(ctx, req, {
      network: NETWORK,
      clients,
      clientAuth: "basic",
      tooLarge: () => json(413, status(413, "Request Entity Too Large")),
      badClient: () => json(401, status(401, "Unauthorized")),
      code: { invalid: () => json(400, { error: "invalid_grant" }) },
      // A refresh token is reused as is, and only a `duration=permanent` consent gets one.
      refresh: { mode: "reuse", invalid: () => json(400, { error: "invalid_grant" }) },
      unsupportedGrant: () => json(400, { error: "unsupported_grant_type" }),
      async issue(from, grantType) {
        const refreshing = grantType === "refresh_token";
        const [row] = refreshing
          ? []
          : await ctx.sql<{ duration: string }[]>`select duration from local_sandbox.reddit_codes where code = ${from.token}`;
        const issued = await issueTokens(ctx, NETWORK, from, {
          accessTtlSeconds: redditSandboxConfig.accessTokenSeconds,
          refreshTtlSeconds: row?.duration === "permanent" ? null : undefined,
        });
        const refreshToken = refreshing ? from.token : issued.refreshToken;
        return json(200, {
          access_token: issued.accessToken,
          token_type: "bearer",
          expires_in: issued.accessExpiresIn,
          scope: from.scopes.join(" "),
          ...(refreshToken ? { refresh_token: refreshToken } : {}),
        });
      },
    });

  async function me(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "identity");
    const [row] = await ctx.sql`select id, username, created_at from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    return json(200, {
      id: row!.id,
      name: row!.username,
      icon_img: `https://styles.redditmedia.com/t5_sandbox/styles/profileIcon_${row!.id}.png?width=256&amp;height=256`,
      is_suspended: false,
      created_utc: Math.floor((row!.created_at as Date).getTime() / 1000),
      link_karma: 1,
      comment_karma: 0,
      verified: true,
      has_verified_email: true,
    });
  }

  async function submit(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "submit");
    const form = await readForm(req, () => json(413, status(413, "Request Entity Too Large")));
    const sr = (form.get("sr") ?? "").replace(/^\/?r\//i, "");
    const title = form.get("title") ?? "";
    const selftext = form.get("text") ?? "";
    const content = selftext ? `${title}\n${selftext}` : title;

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, content);
    if (injected && injectable.has(injected)) return injectedResponse(injected);

    const problem = submitProblem(form, sr, title, selftext);
    if (problem) return json(200, submitErrors([problem]));
    const id = base36(randomInt(36 ** 6, 36 ** 7));
    const name = `t3_${id}`;
    const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 50);
    const url = `https://www.reddit.com/r/${sr}/comments/${id}/${slug}/`;
    await ctx.sql`
      insert into local_sandbox.reddit_posts (name, account_id, subreddit, title, selftext, flair_id, over_18, spoiler, created_at)
      values (${name}, ${grant.account_id}, ${sr}, ${title}, ${selftext}, ${form.get("flair_id")}, ${form.get("nsfw") === "true"},
              ${form.get("spoiler") === "true"}, ${ctx.now()})`;
    await recordPost(ctx, NETWORK, { id: name, accountId: grant.account_id, text: content, media: [] });
    return json(200, { json: { errors: [], data: { url, drafts_count: 0, id, name } } });
  }

  /** The first `[CODE, message, field]` Reddit would answer this submit with, if any. */
  function submitProblem(form: URLSearchParams, sr: string, title: string, selftext: string): [string, string, string | null] | undefined {
    const c = redditSandboxConfig;
    if (form.get("kind") !== "self") return ["INVALID_OPTION", "this sandbox accepts self posts only (kind=self)", "kind"];
    if (!sr) return ["SUBREDDIT_REQUIRED", "you must specify a subreddit", "sr"];
    if (!/^[A-Za-z0-9][A-Za-z0-9_]{2,20}$/.test(sr)) return ["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"];
    if (!title.trim()) return ["NO_TEXT", "we need something here", "title"];
    if ([...title].length > c.titleMaxChars) return ["TOO_LONG", `this is too long (max: ${c.titleMaxChars})`, "title"];
    if ([...selftext].length > c.textMaxChars) return ["TOO_LONG", `this is too long (max: ${c.textMaxChars})`, "text"];
    return undefined;
  }

  /** Reddit's own answer for each failure category it has. */
  function injectedResponse(category: ErrorCategory): Response {
    const wait = redditSandboxConfig.injectedRatelimitSeconds;
    switch (category) {
      case "rate_limited":
        return json(200, submitErrors([["RATELIMIT", `you are doing that too much. try again in ${wait} seconds.`, "ratelimit"]], { ratelimit: wait - 0.25 }));
      case "auth_error":
        return json(401, status(401, "Unauthorized"), { "www-authenticate": 'Bearer realm="reddit", error="invalid_token"' });
      case "network_error":
        return htmlPage(503, "Service Unavailable", "Our CDN was unable to reach our servers. Please try again.");
      case "duplicate":
        return json(200, submitErrors([["ALREADY_SUB", "that link has already been submitted", "url"]]));
      default:
        return json(200, submitErrors([["SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr"]]));
    }
  }

  async function info(req: Request, call: Call): Promise<Response> {
    const grant = await authenticated(req, call, "read");
    const ids = (new URL(req.url).searchParams.get("id") ?? "").split(",").filter(Boolean).slice(0, 100);
    const rows = ids.length ? await ctx.sql`select * from local_sandbox.reddit_posts where name in ${ctx.sql(ids)} order by created_at desc` : [];
    const [author] = await ctx.sql`select username from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const posts = [];
    for (const r of rows) {
      const post = await findPost(ctx, NETWORK, r.name as string);
      if (post) posts.push(post);
    }
    const failure = await metricsFailure(ctx, NETWORK, posts);
    if (failure === "garbage") return garbageResponse();
    if (failure === "rate_limited") {
      return json(429, status(429, "Too Many Requests"), { "x-ratelimit-used": "100", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "3" });
    }
    if (failure) return injectedResponse(failure === "unknown" ? "auth_error" : failure);
    const counts = new Map<string, { score: number; comments: number; crossposts: number; ratio: number }>();
    for (const post of posts) {
      const m = await postMetrics(ctx, NETWORK, post);
      // Reddit shows a score (ups − downs) and the comment count; the sandbox's likes are the score.
      counts.set(post.id, { score: m.likes, comments: m.comments, crossposts: m.shares, ratio: m.likes ? Math.min(1, 0.8 + m.likes / (m.impressions + 1)) : 1 });
    }
    const children = rows.map((r) => ({
      kind: "t3",
      data: {
        id: (r.name as string).slice(3),
        name: r.name,
        subreddit: r.subreddit,
        title: r.title,
        selftext: r.selftext,
        is_self: true,
        link_flair_template_id: r.flair_id,
        over_18: r.over_18,
        spoiler: r.spoiler,
        author: r.account_id === grant.account_id ? author?.username : "[sandbox]",
        score: counts.get(r.name as string)?.score ?? 1,
        ups: counts.get(r.name as string)?.score ?? 1,
        upvote_ratio: Math.round((counts.get(r.name as string)?.ratio ?? 1) * 100) / 100,
        num_comments: counts.get(r.name as string)?.comments ?? 0,
        num_crossposts: counts.get(r.name as string)?.crossposts ?? 0,
        view_count: null,
        created_utc: Math.floor((r.created_at as Date).getTime() / 1000),
        permalink: `/r/${r.subreddit}/comments/${(r.name as string).slice(3)}/`,
      },
    }));
    return json(200, { kind: "Listing", data: { after: null, dist: children.length, children, before: null } });
  }

  /** The API: Reddit refuses a missing or generic User-Agent before anything else. */
  const api =
    (handle: (req: Request, call: Call) => Promise<Response>) =>
    (req: Request, _params: Record<string, string>, call: Call) => {
      const agent = req.headers.get("user-agent") ?? "";
      if (!agent.trim() || GENERIC_AGENT.test(agent)) return json(429, status(429, "Too Many Requests"));
      return handle(req, call);
    };

  const routes = dispatcher<Call>(
    "reddit sandbox",
    {
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "GET /api/v1/authorize": (req) => consent(req),
      "GET /api/v1/authorize.compact": (req) => consent(req),
      "POST /api/v1/access_token": api((req) => accessToken(req)),
      "GET /api/v1/me": api(me),
      "POST /api/submit": api(submit),
      "GET /api/info": api(info),
    },
    {
      notFound: () => json(404, status(404, "Not Found")),
      methodNotAllowed: () => json(405, status(405, "Method Not Allowed")),
    },
  );

  return async (req, path) => {
    const call: Call = {};
    await ready();
    const res = await routes(req, path, call);
    if (call.window) for (const [name, value] of Object.entries(rateHeaders(call.window, ctx.now()))) res.headers.set(name, value);
    return res;
  };
}

/** Reddit's headers: calls used and remaining (as decimals) and the seconds until the window resets. */
function rateHeaders(window: RateWindow, now: Date): Record<string, string> {
  return {
    "x-ratelimit-used": String(window.limit - window.remaining),
    "x-ratelimit-remaining": window.remaining.toFixed(1),
    "x-ratelimit-reset": String(Math.max(0, window.reset - Math.floor(now.getTime() / 1000))),
  };
}

function base36(n: number): string {
  return n.toString(36);
}
