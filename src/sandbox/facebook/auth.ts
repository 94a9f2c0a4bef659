import {
  accountById,
  authorize,
  countCall,
  type Grant,
  htmlPage,
  issueTokens,
  json,
  randomToken,
  redeemCode,
  Reply,
  snowflakeId,
} from "../common.js";
import {
  type Call,
  type Caller,
  clients,
  error400,
  type Facebook,
  facebookSandboxConfig,
  NETWORK,
  PAGE_TASKS,
  pageThrottled,
  TOKEN_PREFIX,
  tokenErrors,
  usageOf,
} from "./shared.js";

/** Consent, tokens (short- and long-lived user tokens, Page tokens) and the usage windows every call counts in. */

/** Counts one call in a usage window; a spent window is Meta's throttling error. */
export async function useQuota(ctx: Facebook, call: Call, caller: Caller): Promise<void> {
  const hour = 3600;
  const app = await countCall(ctx, NETWORK, `app:${caller.grant.client_id}`, facebookSandboxConfig.appCallsPerHour, hour);
  call.app = usageOf(app.window.limit - app.window.remaining + (app.exceeded ? 1 : 0), app.window.limit, 0);
  if (app.exceeded) throw new Reply(error400({ message: "(#4) Application request limit reached", code: 4, transient: true }));
  if (caller.kind !== "page") return;
  const page = await countCall(ctx, NETWORK, `page:${caller.pageId}`, facebookSandboxConfig.pageCallsPerHour, hour);
  const regain = Math.ceil((page.window.reset - ctx.now().getTime() / 1000) / 60);
  const pageCalls = page.window.limit - page.window.remaining + (page.exceeded ? 1 : 0);
  call.page = { id: caller.pageId!, usage: usageOf(pageCalls, page.window.limit, page.exceeded ? regain : 0) };
  if (page.exceeded) throw new Reply(pageThrottled());
}

/** The token on the request (header, query or form) and who it belongs to, or Meta's token error. */
export async function authenticate(ctx: Facebook, req: Request, params: URLSearchParams, call: Call): Promise<Caller> {
  const header = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  const token = header?.[1] ?? params.get("access_token") ?? undefined;
  if (!token) throw new Reply(tokenErrors.missing());
  const [grant] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${token} and network = ${NETWORK} and kind = 'access'`;
  if (!grant) throw new Reply(tokenErrors.unknown());
  if (grant.revoked_at) throw new Reply(tokenErrors.revoked());
  if (grant.expires_at && grant.expires_at <= ctx.now()) throw new Reply(tokenErrors.expired(grant.expires_at, ctx.now()));
  let caller: Caller;
  if (token.startsWith(TOKEN_PREFIX.page)) {
    const page = await ctx.pageById(grant.account_id);
    if (!page) throw new Reply(tokenErrors.revoked());
    caller = { grant, kind: "page", userId: page.owner_id, pageId: page.id };
  } else {
    caller = { grant, kind: "user", userId: grant.account_id };
  }
  await useQuota(ctx, call, caller);
  return caller;
}

/** A user token that is live (for `fb_exchange_token`), or the reason it is not. */
export async function liveUserToken(ctx: Facebook, token: string, clientId: string): Promise<Grant | Response> {
  const [grant] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${token} and network = ${NETWORK} and kind = 'access' and client_id = ${clientId}`;
  if (!grant || token.startsWith(TOKEN_PREFIX.page)) return tokenErrors.unknown();
  if (grant.revoked_at) return tokenErrors.revoked();
  if (grant.expires_at && grant.expires_at <= ctx.now()) return tokenErrors.expired(grant.expires_at, ctx.now());
  return grant;
}

export async function consent(ctx: Facebook, req: Request): Promise<Response> {
  const url = new URL(req.url);
  // Facebook Login for Business: a `config_id` names a configuration of the app, whose permissions replace any scope
  // the URL asks for. One of another app, or none, is refused on the dialog itself.
  const configId = url.searchParams.get("config_id");
  if (configId !== null) {
    const [configuration] = await ctx.sql<{ permissions: string[] }[]>`
      select permissions from local_sandbox.facebook_login_configurations
      where id = ${configId} and client_id = ${url.searchParams.get("client_id") ?? ""}`;
    if (!configuration) {
      return htmlPage(400, "Facebook", "Sorry, something went wrong. This configuration ID is not valid for this app.");
    }
    url.searchParams.set("scope", configuration.permissions.join(","));
  }
  const declined = (url.searchParams.get("sandbox_decline") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (declined.length) {
    const kept = (url.searchParams.get("scope") ?? "").split(/[\s,]+/).filter((s) => s && !declined.includes(s));
    url.searchParams.set("scope", kept.join(","));
  }
  const res = await authorize(ctx, new Request(url, { headers: req.headers }), {
    network: NETWORK,
    clients,
    pkce: "ignored",
    scopeSeparator: /[\s,]+/,
    knownScopes: facebookSandboxConfig.scopes,
    codeTtlSeconds: facebookSandboxConfig.codeSeconds,
    denial: { error: "access_denied", error_code: "200", error_description: "Permissions error", error_reason: "user_denied" },
    newAccount: (username) => ({ id: snowflakeId(ctx.now()), name: `Sandbox ${username}` }),
    errorPage: (message) => htmlPage(400, "Facebook", `Sorry, something went wrong. ${message}`),
  });
  const location = res.headers.get("location");
  const code = location ? new URL(location).searchParams.get("code") : null;
  if (code) {
    const [grant] = await ctx.sql<{ account_id: string }[]>`
      select account_id from local_sandbox.grants where token = ${code} and network = ${NETWORK} and kind = 'code'`;
    const wanted = Number(url.searchParams.get("sandbox_pages") ?? "1");
    await ensurePages(ctx, grant!.account_id, Number.isInteger(wanted) ? Math.min(Math.max(wanted, 0), facebookSandboxConfig.maxPagesPerUser) : 1);
    await ctx.sql`delete from local_sandbox.facebook_declined where account_id = ${grant!.account_id}`;
    for (const permission of declined) {
      await ctx.sql`
        insert into local_sandbox.facebook_declined (account_id, permission) values (${grant!.account_id}, ${permission})
        on conflict do nothing`;
    }
  }
  return res;
}

/** A user signing in for the first time gets `count` Pages; a returning user keeps theirs. */
export async function ensurePages(ctx: Facebook, ownerId: string, count: number): Promise<void> {
  // The consent that just happened issued one code: a second one means the user has signed in before.
  const [returning] = await ctx.sql`
    select 1 from local_sandbox.grants where network = ${NETWORK} and account_id = ${ownerId} and kind = 'code' offset 1 limit 1`;
  if (returning || (await ctx.pagesOf(ownerId)).length > 0) return;
  const owner = await accountById(ctx, NETWORK, ownerId);
  for (let position = 0; position < count; position++) {
    const suffix = position === 0 ? "" : ` ${position + 1}`;
    await ctx.sql`
      insert into local_sandbox.facebook_pages (id, owner_id, name, username, tasks, position, created_at)
      values (${snowflakeId(ctx.now())}, ${ownerId}, ${`${owner?.username ?? "sandbox"} Page${suffix}`},
              ${`${(owner?.username ?? "sandbox").toLowerCase()}.page${position + 1}`}, ${PAGE_TASKS}, ${position}, ${ctx.now()})
      on conflict (owner_id, position) do nothing`;
  }
}

export async function accessToken(ctx: Facebook, params: URLSearchParams): Promise<Response> {
  const client = clients.get(params.get("client_id") ?? "");
  if (!client) return error400({ message: "Error validating application. Invalid application ID.", code: 101 });
  if (client.clientSecret !== params.get("client_secret")) return error400({ message: "Error validating client secret.", code: 1 });
  if (params.get("grant_type") === "fb_exchange_token") {
    const from = await liveUserToken(ctx, params.get("fb_exchange_token") ?? "", client.clientId);
    if (from instanceof Response) return from;
    const issued = await issueTokens(ctx, NETWORK, from, {
      accessTtlSeconds: facebookSandboxConfig.longLivedTokenSeconds,
      tokenPrefix: TOKEN_PREFIX.longUser,
    });
    return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: issued.accessExpiresIn });
  }
  const codeValue = params.get("code");
  if (!codeValue) return error400({ message: "Missing authorization code", code: 1 });
  const [known] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${codeValue} and network = ${NETWORK} and kind = 'code'`;
  const used = () => error400({ message: "This authorization code has been used.", code: 100, subcode: 36009 });
  if (!known) return error400({ message: "Invalid verification code format.", code: 100 });
  if (known.used_at) return used();
  if (known.expires_at && known.expires_at <= ctx.now()) return error400({ message: "This authorization code has expired.", code: 100, subcode: 36007 });
  if (known.client_id !== client.clientId || known.redirect_uri !== params.get("redirect_uri")) {
    return error400({
      message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
      code: 100,
      subcode: 36008,
    });
  }
  const code = await redeemCode(ctx, NETWORK, codeValue);
  if (!code) return used();
  const issued = await issueTokens(ctx, NETWORK, code, {
    accessTtlSeconds: facebookSandboxConfig.shortLivedTokenSeconds,
    tokenPrefix: TOKEN_PREFIX.shortUser,
  });
  return json(200, { access_token: issued.accessToken, token_type: "bearer", expires_in: issued.accessExpiresIn });
}

/** The Page's token for this consent: reused while it lives; from a long-lived user token it never expires. */
export async function pageToken(ctx: Facebook, user: Grant, pageId: string): Promise<string> {
  const longLived = user.token.startsWith(TOKEN_PREFIX.longUser);
  // From a long-lived user token only a non-expiring Page token will do.
  const [live] = await ctx.sql<{ token: string }[]>`
    select token from local_sandbox.grants
    where network = ${NETWORK} and kind = 'access' and account_id = ${pageId} and family = ${user.family}
      and token like ${`${TOKEN_PREFIX.page}%`} and revoked_at is null
      and (expires_at is null or (${!longLived} and expires_at > ${ctx.now()}))
    order by created_at desc limit 1`;
  if (live) return live.token;
  const token = `${TOKEN_PREFIX.page}${randomToken(48)}`;
  await ctx.sql`
    insert into local_sandbox.grants (token, network, kind, account_id, client_id, scopes, family, expires_at, created_at)
    values (${token}, ${NETWORK}, 'access', ${pageId}, ${user.client_id}, ${user.scopes}, ${user.family},
            ${longLived ? null : user.expires_at}, ${ctx.now()})`;
  return token;
}
