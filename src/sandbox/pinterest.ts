import { readStreamCapped } from "../core/http.js";
import type { ErrorCategory } from "../platforms/types.js";
import { registeredClients } from "./clients.js";
import {
  dispatcher,
  authorize,
  checkAccessToken,
  countCall,
  empty,
  handleControl,
  htmlPage,
  injectedFailure,
  issueTokens,
  json,
  readJsonObject,
  recordPost,
  accountFollowers,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  Reply,
  tokenEndpoint,
  sha256Hex,
  sniffImage,
  snowflakeId,
  type Grant,
  type NetworkHandler,
  type SandboxContext,
} from "./common.js";
import { networkTables } from "./network-tables.js";

/**
 * The Pinterest API v5 sandbox, at the paths the adapter calls on www.pinterest.com and api.pinterest.com:
 *
 *   GET    /oauth/                 consent (comma-separated scopes, no PKCE), approves at once
 *   POST   /v5/oauth/token         authorization_code and refresh_token grants, HTTP Basic client auth; refreshing
 *                                  rotates the refresh token (continuous refresh)
 *   GET    /v5/user_account        the signed-in account
 *   GET    /v5/boards              the account's boards, paged with `page_size` and `bookmark`
 *   POST   /v5/boards              create a board
 *   DELETE /v5/boards/<id>         delete a board
 *   POST   /v5/pins                create a pin from `media_source` image_url (fetched here, as Pinterest does) or
 *                                  image_base64
 *   GET    /v5/pins/<id>           a pin
 *
 * Every new account starts with two boards (created at its first code exchange). Errors are Pinterest's
 * `{code, message}`. Pinterest has no duplicate-pin error and image pins are never "processing", so the
 * `[sandbox:duplicate]` and `[sandbox:media_processing]` markers are ignored here (the pin is created).
 */

const NETWORK = "pinterest";
const clients = registeredClients("pinterest");

export const pinterestSandboxConfig = {
  accessTokenSeconds: 30 * 24 * 3600,
  refreshTokenSeconds: 365 * 24 * 3600,
  codeSeconds: 10 * 60,
  descriptionMaxChars: 800,
  titleMaxChars: 100,
  altTextMaxChars: 500,
  linkMaxChars: 2048,
  imageMaxBytes: 20 * 1024 * 1024,
  imageFetchTimeoutMs: 10_000,
  /** org_write calls per user per day (the Trial tier's universal limit is 1,000 a day). */
  writesPerDay: 1000,
  boardNameMaxChars: 50,
  starterBoards: ["Sandbox ideas", "Sandbox recipes"],
  scopes: new Set([
    "boards:read",
    "boards:write",
    "boards:read_secret",
    "boards:write_secret",
    "pins:read",
    "pins:write",
    "pins:read_secret",
    "pins:write_secret",
    "user_accounts:read",
    "ads:read",
  ]),
} as const;

/** The categories Pinterest has an answer for when creating an image pin. */
const injectable: ReadonlySet<ErrorCategory> = new Set(["rate_limited", "auth_error", "network_error", "media_error", "unknown"]);

const error = (code: number, message: string) => ({ code, message });
const errors = {
  authenticationFailed: () => error(2, "Authentication failed."),
  notPermitted: () => error(29, "You are not permitted to access that resource."),
  rateLimited: () =>
    error(
      8,
      "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate limits or if multiple write operations are applied to an object within a short time window.",
    ),
  invalid: (detail: string) => error(1, `Invalid request: ${detail}`),
  invalidUrl: () => error(1, "Whoops! It looks like you entered an invalid URL. Try creating a Pin again with a valid URL."),
  boardNotFound: () => error(40, "Board not found."),
  pinNotFound: () => error(50, "Pin not found."),
  imageBroken: () => error(235, "Sorry, this image is broken. Please pick a different image."),
};

const ddl = `
create table if not exists local_sandbox.pinterest_boards (
  id          text primary key,
  account_id  text not null,
  name        text not null,
  description text not null default '',
  privacy     text not null default 'PUBLIC',
  created_at  timestamptz not null default now(),
  unique (account_id, name)
);
create table if not exists local_sandbox.pinterest_pins (
  id          text primary key,
  account_id  text not null,
  board_id    text not null,
  title       text,
  description text,
  link        text,
  alt_text    text,
  mime_type   text not null,
  size_bytes  integer not null,
  sha256      text not null,
  created_at  timestamptz not null default now()
);`;

interface BoardRow {
  id: string;
  account_id: string;
  name: string;
  description: string;
  privacy: string;
  created_at: Date;
}

export function createPinterestSandbox(ctx: SandboxContext): NetworkHandler {
  const ready = networkTables(ctx.sql, NETWORK, ddl);

  async function authenticated(req: Request, scopes: string[]): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (!check.ok) throw new Reply(json(401, errors.authenticationFailed()));
    if (scopes.some((s) => !check.grant.scopes.includes(s))) throw new Reply(json(401, errors.notPermitted()));
    return check.grant;
  }

  /** Counts an org_write call against the user's daily allowance. */
  async function countWrite(accountId: string): Promise<void> {
    const counted = await countCall(ctx, NETWORK, `org_write:${accountId}`, pinterestSandboxConfig.writesPerDay, 24 * 3600);
    if (counted.exceeded) throw new Reply(json(429, errors.rateLimited()));
  }

  const token = (req: Request) =>
    tokenEndpoint(ctx, req, {
      network: NETWORK,
      clients,
      clientAuth: "basic",
      tooLarge: () => json(413, errors.invalid("request too large")),
      badClient: () => json(401, errors.authenticationFailed()),
      code: { invalid: () => json(400, errors.invalid("authorization code is invalid, expired or was issued for another redirect_uri")) },
      refresh: { mode: "rotate", invalid: () => json(400, errors.invalid("refresh token is invalid, expired or revoked")) },
      unsupportedGrant: () => json(400, errors.invalid("'grant_type' must be one of authorization_code, refresh_token")),
      async issue(from, grantType) {
        if (grantType === "authorization_code") await seedBoards(from.account_id);
        return tokenResponse(from, grantType);
      },
    });

  async function tokenResponse(from: Grant, responseType: string): Promise<Response> {
    const issued = await issueTokens(ctx, NETWORK, from, {
      accessTtlSeconds: pinterestSandboxConfig.accessTokenSeconds,
      refreshTtlSeconds: pinterestSandboxConfig.refreshTokenSeconds,
      tokenPrefix: "pina_",
    });
    const refreshExpiresIn = pinterestSandboxConfig.refreshTokenSeconds;
    return json(200, {
      access_token: issued.accessToken,
      refresh_token: issued.refreshToken,
      response_type: responseType,
      token_type: "bearer",
      expires_in: issued.accessExpiresIn,
      refresh_token_expires_in: refreshExpiresIn,
      refresh_token_expires_at: Math.floor(ctx.now().getTime() / 1000) + refreshExpiresIn,
      scope: from.scopes.join(","),
    });
  }

  async function seedBoards(accountId: string): Promise<void> {
    await ready();
    const [existing] = await ctx.sql`select 1 from local_sandbox.pinterest_boards where account_id = ${accountId} limit 1`;
    if (existing) return;
    // One millisecond apart, so the boards list in the order they are configured (ids within one millisecond are random).
    const start = ctx.now().getTime();
    for (const [i, name] of pinterestSandboxConfig.starterBoards.entries()) {
      const createdAt = new Date(start + i);
      await ctx.sql`
        insert into local_sandbox.pinterest_boards (id, account_id, name, created_at)
        values (${snowflakeId(createdAt)}, ${accountId}, ${name}, ${createdAt})
        on conflict (account_id, name) do nothing`;
    }
  }

  async function userAccount(req: Request): Promise<Response> {
    const grant = await authenticated(req, ["user_accounts:read"]);
    const [row] = await ctx.sql`select id, username, name from local_sandbox.accounts where network = ${NETWORK} and id = ${grant.account_id}`;
    const [counts] = await ctx.sql<{ boards: number; pins: number }[]>`
      select (select count(*)::int from local_sandbox.pinterest_boards where account_id = ${grant.account_id}) as boards,
             (select count(*)::int from local_sandbox.pinterest_pins where account_id = ${grant.account_id}) as pins`;
    return json(200, {
      account_type: "PERSONAL",
      id: row!.id,
      profile_image: `https://i.pinimg.com/280x280_RS/sandbox/${row!.id}.jpg`,
      website_url: null,
      username: row!.username,
      about: "",
      business_name: null,
      board_count: counts!.boards,
      pin_count: counts!.pins,
      follower_count: await accountFollowers(ctx, NETWORK, row!.id),
      following_count: 0,
      monthly_views: 0,
    });
  }

  function boardJson(b: BoardRow, owner: string) {
    return {
      id: b.id,
      created_at: b.created_at.toISOString().replace(/\.\d{3}Z$/, ""),
      board_pins_modified_at: b.created_at.toISOString().replace(/\.\d{3}Z$/, ""),
      name: b.name,
      description: b.description,
      collaborator_count: 0,
      pin_count: 0,
      follower_count: 0,
      media: { image_cover_url: null, pin_thumbnail_urls: [] },
      owner: { username: owner },
      privacy: b.privacy,
    };
  }

  async function listBoards(req: Request): Promise<Response> {
    const grant = await authenticated(req, ["boards:read"]);
    const q = new URL(req.url).searchParams;
    const pageSize = Number(q.get("page_size") ?? "25");
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 250) {
      return json(400, errors.invalid("'page_size' must be an integer from 1 to 250"));
    }
    const offset = q.get("bookmark") ? Number(Buffer.from(q.get("bookmark")!, "base64url").toString("utf8")) : 0;
    if (!Number.isInteger(offset) || offset < 0) return json(400, errors.invalid("'bookmark' is not valid"));
    const rows = await ctx.sql<BoardRow[]>`
      select * from local_sandbox.pinterest_boards where account_id = ${grant.account_id}
      order by created_at, id limit ${pageSize + 1} offset ${offset}`;
    const owner = await usernameOf(grant.account_id);
    const more = rows.length > pageSize;
    return json(200, {
      items: rows.slice(0, pageSize).map((b) => boardJson(b, owner)),
      bookmark: more ? Buffer.from(String(offset + pageSize)).toString("base64url") : null,
    });
  }

  async function createBoard(req: Request): Promise<Response> {
    const grant = await authenticated(req, ["boards:read", "boards:write"]);
    await countWrite(grant.account_id);
    const body = await readJsonObject(req, () => json(400, errors.invalid("the body is not a JSON object")));
    const name = typeof body.name === "string" ? body.name.trim() : "";
    const privacy = body.privacy ?? "PUBLIC";
    if (!name || name.length > pinterestSandboxConfig.boardNameMaxChars || !["PUBLIC", "PROTECTED", "SECRET"].includes(String(privacy))) {
      return json(400, error(400, "The board name is invalid or duplicated."));
    }
    const id = snowflakeId(ctx.now());
    const [row] = await ctx.sql<BoardRow[]>`
      insert into local_sandbox.pinterest_boards (id, account_id, name, description, privacy, created_at)
      values (${id}, ${grant.account_id}, ${name}, ${typeof body.description === "string" ? body.description : ""}, ${String(privacy)}, ${ctx.now()})
      on conflict (account_id, name) do nothing
      returning *`;
    if (!row) return json(400, error(400, "The board name is invalid or duplicated."));
    return json(201, boardJson(row, await usernameOf(grant.account_id)));
  }

  async function deleteBoard(req: Request, boardId: string): Promise<Response> {
    const grant = await authenticated(req, ["boards:read", "boards:write"]);
    await countWrite(grant.account_id);
    const rows = await ctx.sql`
      delete from local_sandbox.pinterest_boards where id = ${boardId} and account_id = ${grant.account_id} returning id`;
    return rows.length ? empty(204) : json(404, error(404, "Board not found."));
  }

  async function createPin(req: Request): Promise<Response> {
    const grant = await authenticated(req, ["boards:read", "boards:write", "pins:read", "pins:write"]);
    await countWrite(grant.account_id);
    const body = await readJsonObject(req, () => json(400, errors.invalid("the body is not a JSON object")));
    const text = (field: string) => (typeof body[field] === "string" ? (body[field] as string) : undefined);
    const description = text("description") ?? "";

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, description);
    if (injected && injectable.has(injected)) return injectedResponse(injected);

    const invalid = validatePinFields(body, text);
    if (invalid) return json(400, invalid);
    const [board] = await ctx.sql`
      select id from local_sandbox.pinterest_boards where id = ${text("board_id")!} and account_id = ${grant.account_id}`;
    if (!board) return json(404, errors.boardNotFound());
    const image = await imageFrom(body.media_source as Record<string, unknown>);
    if ("error" in image) return image.error;

    const id = snowflakeId(ctx.now()).slice(0, 18);
    const link = text("link") ?? null;
    await ctx.sql`
      insert into local_sandbox.pinterest_pins (id, account_id, board_id, title, description, link, alt_text, mime_type, size_bytes, sha256, created_at)
      values (${id}, ${grant.account_id}, ${board.id}, ${text("title") ?? null}, ${description}, ${link}, ${text("alt_text") ?? null},
              ${image.mimeType}, ${image.bytes.byteLength}, ${sha256Hex(image.bytes)}, ${ctx.now()})`;
    await recordPost(ctx, NETWORK, {
      id,
      accountId: grant.account_id,
      text: description,
      media: [{ id: sha256Hex(image.bytes).slice(0, 16), mimeType: image.mimeType, sizeBytes: image.bytes.byteLength }],
    });
    return json(201, await pinJson(id));
  }

  /** The fields Pinterest validates before it looks at the board or the image. */
  function validatePinFields(body: Record<string, unknown>, text: (field: string) => string | undefined) {
    const c = pinterestSandboxConfig;
    if (!/^\d+$/.test(text("board_id") ?? "")) return errors.invalid("'board_id' is a required property and must match the pattern ^\\d+$");
    if ((text("description") ?? "").length > c.descriptionMaxChars) return errors.invalid(`'description' is longer than ${c.descriptionMaxChars} characters`);
    if ((text("title") ?? "").length > c.titleMaxChars) return errors.invalid(`'title' is longer than ${c.titleMaxChars} characters`);
    if ((text("alt_text") ?? "").length > c.altTextMaxChars) return errors.invalid(`'alt_text' is longer than ${c.altTextMaxChars} characters`);
    const link = text("link");
    if (link !== undefined && (link.length > c.linkMaxChars || !/^https?:\/\//.test(link) || !URL.canParse(link))) return errors.invalidUrl();
    const source = body.media_source as { source_type?: unknown } | undefined;
    if (!source || typeof source !== "object") return errors.invalid("'media_source' is a required property");
    if (source.source_type !== "image_url" && source.source_type !== "image_base64") {
      return errors.invalid(`media_source 'source_type' ${String(source.source_type)} is not supported by this sandbox (image_url, image_base64)`);
    }
    return undefined;
  }

  /** The image of a pin: fetched from its URL (bounded), or decoded from base64; it must really be an image. */
  async function imageFrom(source: Record<string, unknown>): Promise<{ bytes: Buffer; mimeType: string } | { error: Response }> {
    let bytes: Buffer;
    if (source.source_type === "image_base64") {
      bytes = Buffer.from(typeof source.data === "string" ? source.data : "", "base64");
    } else {
      const url = typeof source.url === "string" ? source.url : "";
      if (!/^https?:\/\//.test(url) || !URL.canParse(url)) return { error: json(400, errors.invalidUrl()) };
      const fetched = await fetchImage(url);
      if (!fetched) return { error: json(400, errors.invalid(`Unable to reach the URL ${url}`)) };
      bytes = fetched;
    }
    const image = sniffImage(bytes);
    if (!image || bytes.byteLength > pinterestSandboxConfig.imageMaxBytes) return { error: json(403, errors.imageBroken()) };
    return { bytes, mimeType: image.mimeType };
  }

  async function pinJson(id: string) {
    const [pin] = await ctx.sql`select * from local_sandbox.pinterest_pins where id = ${id}`;
    return {
      id: pin!.id,
      created_at: (pin!.created_at as Date).toISOString().replace(/\.\d{3}Z$/, ""),
      link: pin!.link,
      title: pin!.title,
      description: pin!.description,
      dominant_color: "#6E7874",
      alt_text: pin!.alt_text,
      creative_type: "REGULAR",
      board_id: pin!.board_id,
      board_section_id: null,
      board_owner: { username: await usernameOf(pin!.account_id as string) },
      is_owner: true,
      media: { media_type: "image", images: { "1200x": { width: 1200, height: 1200, url: `https://i.pinimg.com/1200x/sandbox/${pin!.sha256}.png` } } },
      parent_pin_id: null,
      is_standard: true,
      has_been_promoted: false,
      note: "",
      pin_metrics: null,
    };
  }

  async function getPin(req: Request, pinId: string): Promise<Response> {
    const grant = await authenticated(req, ["boards:read", "pins:read"]);
    const [pin] = await ctx.sql`select account_id from local_sandbox.pinterest_pins where id = ${pinId}`;
    if (!pin) return json(404, errors.pinNotFound());
    if (pin.account_id !== grant.account_id) return json(403, errors.notPermitted());
    return json(200, await pinJson(pinId));
  }

  /**
   * `GET /v5/pins/{pin_id}/analytics?start_date&end_date&metric_types=…` (the pin's owner, `pins:read`): daily metrics in
   * the window (at most 90 days, not before the pin), their sum, and the pin's lifetime totals, under `all`.
   */
  async function pinAnalytics(req: Request, pinId: string): Promise<Response> {
    const grant = await authenticated(req, ["pins:read"]);
    const q = new URL(req.url).searchParams;
    const day = /^\d{4}-\d{2}-\d{2}$/;
    const start = q.get("start_date") ?? "";
    const end = q.get("end_date") ?? "";
    if (!day.test(start) || !day.test(end) || start > end) return json(400, errors.invalid("start_date and end_date must be YYYY-MM-DD, start first"));
    if ((Date.parse(end) - Date.parse(start)) / 86_400_000 > 90) return json(400, errors.invalid("The date range may be at most 90 days"));
    const types = (q.get("metric_types") ?? "").split(",").filter(Boolean);
    if (!types.length) return json(400, errors.invalid("metric_types is required"));
    const [pin] = await ctx.sql`select account_id from local_sandbox.pinterest_pins where id = ${pinId}`;
    if (!pin) return json(404, errors.pinNotFound());
    if (pin.account_id !== grant.account_id) return json(403, errors.notPermitted());
    const post = await findPost(ctx, NETWORK, pinId);
    const failure = post ? await metricsFailure(ctx, NETWORK, [post]) : undefined;
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedResponse(failure);
    const m = post ? await postMetrics(ctx, NETWORK, post) : undefined;
    const lifetime: Record<string, number> = {
      IMPRESSION: m?.impressions ?? 0,
      OUTBOUND_CLICK: Math.floor((m?.clicks ?? 0) * 0.4),
      PIN_CLICK: (m?.clicks ?? 0) - Math.floor((m?.clicks ?? 0) * 0.4),
      SAVE: m?.saves ?? 0,
      TOTAL_COMMENTS: m?.comments ?? 0,
      TOTAL_REACTIONS: m?.likes ?? 0,
    };
    lifetime.SAVE_RATE = lifetime.IMPRESSION ? lifetime.SAVE! / lifetime.IMPRESSION : 0;
    const pick = (all: Record<string, number>) => Object.fromEntries(types.filter((t) => t in all).map((t) => [t, all[t]]));
    const picked = pick(lifetime);
    return json(200, {
      all: {
        daily_metrics: [{ date: end, data_status: "READY", metrics: picked }],
        summary_metrics: picked,
        lifetime_metrics: picked,
      },
    });
  }

  /** Pinterest's own answer for each failure category it has. */
  function injectedResponse(category: ErrorCategory): Response {
    switch (category) {
      case "rate_limited":
        return json(429, errors.rateLimited());
      case "auth_error":
        return json(401, errors.authenticationFailed());
      case "network_error":
        return htmlPage(503, "Service Unavailable", "The server is temporarily unable to service your request.");
      case "media_error":
        return json(403, errors.imageBroken());
      default:
        return json(400, errors.invalid("Sorry, we could not complete that request."));
    }
  }

  async function usernameOf(accountId: string): Promise<string> {
    const [row] = await ctx.sql<{ username: string }[]>`
      select username from local_sandbox.accounts where network = ${NETWORK} and id = ${accountId}`;
    return row?.username ?? "";
  }

  /** The v5 API: the sandbox's own tables are ready first. */
  const api =
    (handle: (req: Request, params: Record<string, string>) => Promise<Response>) =>
    async (req: Request, params: Record<string, string>) => {
      await ready();
      return handle(req, params);
    };

  return dispatcher(
    "pinterest sandbox",
    {
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "GET /oauth": (req) =>
        authorize(ctx, req, {
          network: NETWORK,
          clients,
          pkce: "ignored",
          scopeSeparator: /[\s,+]+/,
          knownScopes: pinterestSandboxConfig.scopes,
          codeTtlSeconds: pinterestSandboxConfig.codeSeconds,
          denial: { error: "access_denied" },
          newAccount: (username) => ({ id: snowflakeId(ctx.now()).slice(0, 18), name: `Sandbox ${username}` }),
          errorPage: (message) => htmlPage(400, "Pinterest", `Something went wrong. ${message}`),
        }),
      "POST /v5/oauth/token": api((req) => token(req)),
      "GET /v5/user_account": api((req) => userAccount(req)),
      "GET /v5/boards": api((req) => listBoards(req)),
      "POST /v5/boards": api((req) => createBoard(req)),
      "POST /v5/pins": api((req) => createPin(req)),
      "DELETE /v5/boards/:boardId(\\d+)": api((req, params) => deleteBoard(req, params.boardId!)),
      "GET /v5/pins/:pinId(\\d+)": api((req, params) => getPin(req, params.pinId!)),
      "GET /v5/pins/:pinId(\\d+)/analytics": api((req, params) => pinAnalytics(req, params.pinId!)),
    },
    {
      notFound: () => json(404, error(404, "API method not found.")),
      methodNotAllowed: () => json(405, error(405, "Method not allowed.")),
    },
  );
}

/** GETs an image URL as Pinterest's crawler would: bounded in time and size; undefined when it cannot be read. */
async function fetchImage(url: string): Promise<Buffer | undefined> {
  const max = pinterestSandboxConfig.imageMaxBytes;
  const overLimit = new Error("image too large");
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(pinterestSandboxConfig.imageFetchTimeoutMs), redirect: "follow" });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    return await readStreamCapped(res.body, max, () => overLimit);
  } catch (err) {
    // Past the limit: a buffer one byte too large, which the caller refuses as Pinterest does.
    return err === overLimit ? Buffer.alloc(max + 1) : undefined;
  }
}
