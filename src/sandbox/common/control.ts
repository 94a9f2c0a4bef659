import { dispatcher, json } from "../../local/emulator.js";
import { setPostMetrics } from "./metrics.js";
import { accountById } from "./oauth.js";
import type { SandboxContext } from "./schema.js";

/**
 * `/__sandbox/...` for tests and manual checks (documented in src/sandbox/index.ts). `accountRef` turns what a caller
 * passes (e.g. LinkedIn's `urn:li:person:<id>`) into the sandbox's account id.
 */
export async function handleControl(
  ctx: SandboxContext,
  network: string,
  req: Request,
  path: string,
  accountRef: (ref: string) => string = (ref) => ref,
): Promise<Response> {
  return controlRoutes(req, path, { ctx, network, accountRef });
}

interface ControlContext {
  ctx: SandboxContext;
  network: string;
  accountRef: (ref: string) => string;
}

const tokenKinds = { "expire-access-tokens": ["access"], "revoke-refresh-tokens": ["refresh"], "revoke-all-tokens": ["access", "refresh"] };

const controlRoutes = dispatcher<ControlContext>(
  "sandbox control",
  {
    "GET /accounts": async (_req, _params, { ctx, network }) => {
      const rows = await ctx.sql`select id, username, name, created_at from local_sandbox.accounts where network = ${network} order by created_at`;
      return json(200, { accounts: rows.map((r) => ({ id: r.id, username: r.username, name: r.name, createdAt: r.created_at })) });
    },
    "GET /posts": async (req, _params, { ctx, network, accountRef }) => {
      const account = accountParam(req, accountRef);
      const rows = await ctx.sql`
        select id, account_id, text, media, created_at from local_sandbox.posts
        where network = ${network} and (${account}::text is null or account_id = ${account}) order by created_at, id`;
      return json(200, {
        posts: rows.map((r) => ({ id: r.id, accountId: r.account_id, text: r.text, media: r.media, createdAt: r.created_at })),
      });
    },
    "GET /media": async (req, _params, { ctx, network, accountRef }) => {
      const account = accountParam(req, accountRef);
      const rows = await ctx.sql`
        select id, account_id, state, mime_type, size_bytes, created_at from local_sandbox.media
        where network = ${network} and (${account}::text is null or account_id = ${account}) order by created_at, id`;
      return json(200, {
        media: rows.map((r) => ({ id: r.id, accountId: r.account_id, state: r.state, mimeType: r.mime_type, sizeBytes: r.size_bytes })),
      });
    },
    // Sets a post's metrics (any of impressions, reach, likes, comments, shares, quotes, saves, clicks, videoViews)
    // and/or a failure for its metrics calls: {"fail": "rate_limited"|"auth_error"|"network_error"|"unknown"|"garbage"|null,
    // "times": n}. Unset counts keep following the simulation (src/sandbox/common/metrics.ts).
    "POST /posts/:post/metrics": async (req, params, { ctx, network }) => {
      const body = (await req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
      if (!body || typeof body !== "object" || Array.isArray(body)) return json(400, { error: "a JSON object is required" });
      const result = await setPostMetrics(ctx, network, decodeURIComponent(params.post!), body);
      return result.ok ? json(200, result) : json(result.error.startsWith("no ") ? 404 : 400, { error: result.error });
    },
    "POST /accounts/:account/followers": async (req, params, { ctx, network, accountRef }) => {
      const body = (await req.json().catch(() => undefined)) as { followers?: unknown } | undefined;
      const followers = body?.followers;
      if (typeof followers !== "number" || !Number.isSafeInteger(followers) || followers < 0) {
        return json(400, { error: "followers must be a non-negative integer" });
      }
      const accountId = accountRef(params.account!);
      await ctx.sql`
        insert into local_sandbox.account_metrics (network, account_id, followers) values (${network}, ${accountId}, ${followers})
        on conflict (network, account_id) do update set followers = excluded.followers`;
      return json(200, { accountId, followers });
    },
    "POST /accounts/:account/:action([a-z-]+)": async (_req, params, { ctx, network, accountRef }) => {
      const accountId = accountRef(params.account!);
      const verb = params.action as keyof typeof tokenKinds;
      if (!Object.hasOwn(tokenKinds, verb)) return json(404, { error: `unknown control action ${params.action}` });
      if (!(await accountById(ctx, network, accountId))) return json(404, { error: `no ${network} sandbox account ${accountId}` });
      const now = ctx.now();
      const rows =
        verb === "expire-access-tokens"
          ? await ctx.sql`
              update local_sandbox.grants set expires_at = ${new Date(now.getTime() - 1000)}
              where network = ${network} and account_id = ${accountId} and kind = 'access' and (expires_at is null or expires_at > ${now})
              returning token`
          : await ctx.sql`
              update local_sandbox.grants set revoked_at = ${now}
              where network = ${network} and account_id = ${accountId} and kind in ${ctx.sql(tokenKinds[verb])} and revoked_at is null
              returning token`;
      return json(200, { accountId, action: verb, tokens: rows.length });
    },
  },
  {
    notFound: (method, path) => json(404, { error: `unknown sandbox control endpoint ${method} ${path}` }),
    methodNotAllowed: (method, path) => json(405, { error: `${method} is not allowed on sandbox control endpoint ${path}` }),
  },
);

function accountParam(req: Request, accountRef: (ref: string) => string): string | null {
  const ref = new URL(req.url).searchParams.get("account_id");
  return ref ? accountRef(ref) : null;
}
