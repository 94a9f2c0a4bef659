import { accountById, json, snowflakeId } from "../common.js";
import { clients, type Facebook, facebookSandboxConfig, NETWORK, type PageRow, TOKEN_PREFIX } from "./shared.js";

/**
 * The Facebook control endpoints: token actions on a Page or user (its own, not the common ones), the Pages list, and
 * the developer portal's Login for Business configurations.
 */

/** Token actions on an account: a Page id acts on that Page's tokens and its owner's user tokens. */
export async function controlAccount(ctx: Facebook, ref: string, action: string): Promise<Response> {
  const page = await ctx.pageById(ref);
  const userId = page?.owner_id ?? ref;
  if (!page && !(await accountById(ctx, NETWORK, userId))) return json(404, { error: `no ${NETWORK} sandbox Page or user ${ref}` });
  const pageIds = page ? [page.id] : (await ctx.pagesOf(userId)).map((p) => p.id);
  const userPattern = `${TOKEN_PREFIX.shortUser}%`;
  const longPattern = `${TOKEN_PREFIX.longUser}%`;
  const now = ctx.now();
  let rows: { token: string }[];
  switch (action) {
    case "expire-access-tokens":
      // Page tokens (and, for a user, their short-lived user tokens): the long-lived user token still refreshes.
      rows = await ctx.sql`
        update local_sandbox.grants set expires_at = ${new Date(now.getTime() - 1000)}
        where network = ${NETWORK} and kind = 'access' and revoked_at is null and (expires_at is null or expires_at > ${now})
          and ((account_id in ${ctx.sql(pageIds.length ? pageIds : [""])} and token like ${`${TOKEN_PREFIX.page}%`})
               or (${page ? null : userId}::text is not null and account_id = ${userId} and token like ${userPattern}))
        returning token`;
      break;
    case "revoke-refresh-tokens":
      rows = await ctx.sql`
        update local_sandbox.grants set revoked_at = ${now}
        where network = ${NETWORK} and account_id = ${userId} and (token like ${longPattern} or token like ${userPattern})
          and revoked_at is null
        returning token`;
      break;
    case "revoke-all-tokens": {
      const all = [userId, ...(await ctx.pagesOf(userId)).map((p) => p.id)];
      rows = await ctx.sql`
        update local_sandbox.grants set revoked_at = ${now}
        where network = ${NETWORK} and account_id in ${ctx.sql(all)} and kind in ('access', 'refresh') and revoked_at is null
        returning token`;
      break;
    }
    case "exhaust-page-quota": {
      if (!page) return json(400, { error: "exhaust-page-quota needs a Page id" });
      const seconds = Math.floor(now.getTime() / 1000);
      const start = new Date((seconds - (seconds % 3600)) * 1000);
      await ctx.sql`
        insert into local_sandbox.rate_windows (network, bucket, window_start, calls)
        values (${NETWORK}, ${`page:${page.id}`}, ${start}, ${facebookSandboxConfig.pageCallsPerHour})
        on conflict (network, bucket, window_start) do update set calls = ${facebookSandboxConfig.pageCallsPerHour}`;
      return json(200, { accountId: page.id, action });
    }
    default:
      return json(404, { error: `unknown control action ${action}` });
  }
  return json(200, { accountId: ref, action, tokens: rows.length });
}

/** `GET /__sandbox/pages[?owner_id=<user id>]`: the users' Pages. */
export async function listPages(ctx: Facebook, req: Request): Promise<Response> {
  const owner = new URL(req.url).searchParams.get("owner_id");
  const rows = await ctx.sql<(PageRow & { position: number })[]>`
    select id, owner_id, name, username, tasks, position from local_sandbox.facebook_pages
    where (${owner}::text is null or owner_id = ${owner}) order by owner_id, position`;
  return json(200, { pages: rows.map((r) => ({ id: r.id, ownerId: r.owner_id, name: r.name, username: r.username, tasks: r.tasks })) });
}

/**
 * The developer portal's Facebook Login for Business configurations:
 *   POST /__sandbox/configurations  {"clientId", "permissions": [...], "name"?}   201 { configId, clientId, name, permissions }
 *   GET  /__sandbox/configurations[?client_id=…]                                  { configurations: [...] }
 * The app must be registered (the sandbox's own client or one from `POST /__sandbox/apps`), and every permission one
 * the sandbox knows.
 */
export async function configurations(ctx: Facebook, req: Request): Promise<Response> {
  if (req.method === "GET") {
    const clientId = new URL(req.url).searchParams.get("client_id");
    const rows = await ctx.sql<{ id: string; client_id: string; name: string; permissions: string[] }[]>`
      select id, client_id, name, permissions from local_sandbox.facebook_login_configurations
      where ${clientId === null ? ctx.sql`true` : ctx.sql`client_id = ${clientId}`}
      order by created_at, id`;
    return json(200, { configurations: rows.map((r) => ({ configId: r.id, clientId: r.client_id, name: r.name, permissions: r.permissions })) });
  }
  let body: { clientId?: unknown; name?: unknown; permissions?: unknown };
  try {
    body = (await req.json()) as typeof body;
  } catch {
    return json(400, { error: "the body must be JSON: { clientId, permissions, name? }" });
  }
  const clientId = typeof body?.clientId === "string" ? body.clientId : "";
  if (!clients.get(clientId)) return json(400, { error: `no app with client id '${clientId}' is registered on the facebook sandbox` });
  const permissions = body?.permissions;
  if (!Array.isArray(permissions) || permissions.length === 0 || !permissions.every((p) => typeof p === "string")) {
    return json(400, { error: "permissions must be a non-empty array of permission names" });
  }
  const unknown = permissions.filter((p) => !facebookSandboxConfig.scopes.has(p as never));
  if (unknown.length) return json(400, { error: `unknown permissions: ${unknown.join(", ")}` });
  const name = typeof body?.name === "string" && body.name.trim() ? body.name.trim().slice(0, 100) : "Sandbox configuration";
  const id = snowflakeId(ctx.now());
  const unique = [...new Set(permissions as string[])];
  await ctx.sql`
    insert into local_sandbox.facebook_login_configurations (id, client_id, name, permissions)
    values (${id}, ${clientId}, ${name}, ${unique})`;
  return json(201, { configId: id, clientId, name, permissions: unique });
}
