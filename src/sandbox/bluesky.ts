import { createHash, createHmac, randomBytes, randomInt } from "node:crypto";
import type { ErrorCategory } from "../platforms/types.js";
import {
  dispatcher,
  accountById,
  accountForLogin,
  bearerToken,
  checkAccessToken,
  countCall,
  accountFollowers,
  findPost,
  garbageResponse,
  metricsFailure,
  postMetrics,
  createMedia,
  findMedia,
  handleControl,
  injectedFailure,
  json,
  readBytes,
  readJsonObject,
  recordPost,
  Reply,
  sha256Hex,
  sniffImage,
  type Grant,
  type NetworkHandler,
  type PostMedia,
  type RateWindow,
  type SandboxContext,
} from "./common.js";
import { networkTables } from "./network-tables.js";

/**
 * The Bluesky (AT Protocol) sandbox: a PDS at the XRPC paths the adapter calls on bsky.social:
 *
 *   POST /xrpc/com.atproto.server.createSession    handle (or DID) + app password → accessJwt (2 h), refreshJwt (90 d)
 *   POST /xrpc/com.atproto.server.refreshSession   Bearer refreshJwt → a new pair; the old refresh JWT stops working
 *   GET  /xrpc/com.atproto.server.getSession       the session's account (`active`, `status`, DID document)
 *   GET  /xrpc/app.bsky.actor.getProfile?actor=    display name and avatar
 *   POST /xrpc/com.atproto.repo.uploadBlob         raw bytes → a blob ref (CID)
 *   POST /xrpc/com.atproto.repo.createRecord       an `app.bsky.feed.post` (text ≤ 300 graphemes and 3,000 bytes,
 *                                                  facets checked against the text's UTF-8 bytes, image embeds of
 *                                                  uploaded blobs ≤ 1,000,000 bytes)
 *   GET  /xrpc/com.atproto.repo.getRecord          a record as written
 *
 * Signing in stands in for the consent page: the first sign-in as a new handle (any `<name>.<domain>`) creates the
 * account and registers the app password given, which must look like one (`xxxx-xxxx-xxxx-xxxx`); later sign-ins
 * need that same app password, so a wrong one is refused with 401 AuthenticationRequired.
 * Errors are XRPC's `{error, message}`: ExpiredToken (400), InvalidToken/AuthMissing (401), RateLimitExceeded (429,
 * with `ratelimit-limit/-remaining/-reset/-policy`), BlobNotFound, InvalidRequest. Limits: createSession 30 per 5
 * minutes per identifier; writes 5,000 points an hour per account (a post costs 3).
 * Bluesky has no duplicate-post error and images are never "processing", so `[sandbox:duplicate]` and
 * `[sandbox:media_processing]` are ignored here (the post is created).
 * Extra control endpoint: POST /sandbox/bluesky/__sandbox/accounts/<did>/deactivate (getSession then says
 * `active: false, status: "deactivated"`).
 */

const NETWORK = "bluesky";

export const blueskySandboxConfig = {
  accessTokenSeconds: 2 * 3600,
  refreshTokenSeconds: 90 * 24 * 3600,
  sessionsPerWindow: 30,
  sessionWindowSeconds: 300,
  writePointsPerHour: 5000,
  createPoints: 3,
  textMaxGraphemes: 300,
  textMaxBytes: 3000,
  blobMaxBytes: 50 * 1024 * 1024,
  embedImageMaxBytes: 1_000_000,
  maxImages: 4,
  injectedResetSeconds: 3,
} as const;

/** The categories Bluesky has an answer for when creating a post with images. */
const injectable: ReadonlySet<ErrorCategory> = new Set(["rate_limited", "auth_error", "network_error", "media_error", "unknown"]);
const APP_PASSWORD = /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/;
const HANDLE = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SIGNING_KEY = randomBytes(32);

const xrpcError = (error: string, message: string) => ({ error, message });
const invalidRecord = (detail: string) => xrpcError("InvalidRequest", `Invalid app.bsky.feed.post record: ${detail}`);

const ddl = `
create table if not exists local_sandbox.bluesky_app_passwords (
  id            text primary key,
  account_id    text not null,
  password_hash text not null,
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz
);
create index if not exists bluesky_app_passwords_account on local_sandbox.bluesky_app_passwords (account_id);
create table if not exists local_sandbox.bluesky_account_status (
  account_id text primary key,
  status     text not null
);
create table if not exists local_sandbox.bluesky_records (
  uri        text primary key,
  did        text not null,
  collection text not null,
  rkey       text not null,
  cid        text not null,
  record     jsonb not null,
  created_at timestamptz not null default now()
);`;

interface Call {
  window?: RateWindow;
  policy?: string;
}

export function createBlueskySandbox(ctx: SandboxContext): NetworkHandler {
  const ready = networkTables(ctx.sql, NETWORK, ddl);

  /** Counts a call in a window; a spent window is XRPC's 429 with the window in its headers. */
  async function limit(call: Call, bucket: string, limit: number, windowSeconds: number, weight = 1): Promise<void> {
    const counted = await countCall(ctx, NETWORK, bucket, Math.floor(limit / weight), windowSeconds);
    const used = (counted.window.limit - counted.window.remaining) * weight;
    call.window = { limit, remaining: Math.max(0, limit - used), reset: counted.window.reset };
    call.policy = `${limit};w=${windowSeconds}`;
    if (counted.exceeded) throw new Reply(json(429, xrpcError("RateLimitExceeded", "Rate Limit Exceeded")));
  }

  async function session(req: Request): Promise<Grant> {
    const check = await checkAccessToken(ctx, NETWORK, req);
    if (check.ok) return check.grant;
    const replies = {
      missing: () => json(401, xrpcError("AuthMissing", "Authentication Required")),
      unknown: () => json(401, xrpcError("InvalidToken", "Token could not be verified")),
      revoked: () => json(401, xrpcError("InvalidToken", "Token has been revoked")),
      expired: () => json(400, xrpcError("ExpiredToken", "Token has expired")),
    };
    throw new Reply(replies[check.reason]());
  }

  async function createSession(req: Request, call: Call): Promise<Response> {
    const body = await readJsonObject(req, () => json(400, xrpcError("InvalidRequest", "Input must be a JSON object")));
    const identifier = typeof body.identifier === "string" ? body.identifier.trim().toLowerCase().replace(/^@/, "") : "";
    const password = typeof body.password === "string" ? body.password : "";
    if (!identifier || !password) return json(400, xrpcError("InvalidRequest", "Input must have the properties \"identifier\" and \"password\""));
    await limit(call, `createSession:${identifier}`, blueskySandboxConfig.sessionsPerWindow, blueskySandboxConfig.sessionWindowSeconds);
    const refused = () => json(401, xrpcError("AuthenticationRequired", "Invalid identifier or password"));

    const existing = identifier.startsWith("did:")
      ? await accountById(ctx, NETWORK, identifier)
      : (await ctx.sql<{ id: string }[]>`select id from local_sandbox.accounts where network = ${NETWORK} and username = ${identifier}`)[0];
    let accountId: string;
    let appPasswordId: string | undefined;
    if (existing) {
      accountId = existing.id;
      appPasswordId = await matchingAppPassword(accountId, password);
      if (!appPasswordId) return refused();
    } else {
      // A first sign-in as a new handle creates the account with this app password, as if made in its settings.
      if (identifier.startsWith("did:") || !HANDLE.test(identifier) || !APP_PASSWORD.test(password)) return refused();
      const account = await accountForLogin(ctx, NETWORK, identifier, () => ({ id: newDid(), name: `Sandbox ${identifier.split(".")[0]}` }));
      accountId = account.id;
      appPasswordId = (await matchingAppPassword(accountId, password)) ?? (await addAppPassword(accountId, password));
    }
    return json(200, await sessionBody(accountId, await issueSession(accountId, `app-password:${appPasswordId}`, randomBytes(12).toString("base64url"))));
  }

  async function matchingAppPassword(accountId: string, password: string): Promise<string | undefined> {
    const [row] = await ctx.sql<{ id: string }[]>`
      select id from local_sandbox.bluesky_app_passwords
      where account_id = ${accountId} and password_hash = ${sha256Hex(password)} and revoked_at is null`;
    return row?.id;
  }

  async function addAppPassword(accountId: string, password: string): Promise<string> {
    const id = randomBytes(8).toString("hex");
    await ctx.sql`
      insert into local_sandbox.bluesky_app_passwords (id, account_id, password_hash, created_at)
      values (${id}, ${accountId}, ${sha256Hex(password)}, ${ctx.now()})`;
    return id;
  }

  /** A new access/refresh JWT pair, stored as grants so the shared control endpoints can expire and revoke them. */
  async function issueSession(accountId: string, clientId: string, family: string): Promise<{ accessJwt: string; refreshJwt: string }> {
    const c = blueskySandboxConfig;
    const nowSeconds = Math.floor(ctx.now().getTime() / 1000);
    const accessJwt = signJwt("at+jwt", {
      scope: "com.atproto.appPass",
      sub: accountId,
      // Two sessions started in the same second must still differ.
      jti: randomBytes(16).toString("base64url"),
      iat: nowSeconds,
      exp: nowSeconds + c.accessTokenSeconds,
      aud: "did:web:bsky.social",
    });
    const refreshJwt = signJwt("refresh+jwt", {
      scope: "com.atproto.refresh",
      sub: accountId,
      aud: "did:web:bsky.social",
      jti: randomBytes(16).toString("base64url"),
      iat: nowSeconds,
      exp: nowSeconds + c.refreshTokenSeconds,
    });
    const insert = (token: string, kind: string, seconds: number) => ctx.sql`
      insert into local_sandbox.grants (token, network, kind, account_id, client_id, scopes, family, expires_at)
      values (${token}, ${NETWORK}, ${kind}, ${accountId}, ${clientId}, ${["com.atproto.appPass"]}, ${family},
              ${new Date(ctx.now().getTime() + seconds * 1000)})`;
    await insert(accessJwt, "access", c.accessTokenSeconds);
    await insert(refreshJwt, "refresh", c.refreshTokenSeconds);
    return { accessJwt, refreshJwt };
  }

  async function sessionBody(accountId: string, tokens?: { accessJwt: string; refreshJwt: string }) {
    const account = (await accountById(ctx, NETWORK, accountId))!;
    const [status] = await ctx.sql<{ status: string }[]>`select status from local_sandbox.bluesky_account_status where account_id = ${accountId}`;
    return {
      did: account.id,
      didDoc: {
        "@context": ["https://www.w3.org/ns/did/v1"],
        id: account.id,
        alsoKnownAs: [`at://${account.username}`],
        service: [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: ctx.baseUrl }],
      },
      handle: account.username,
      ...(tokens ?? {}),
      active: !status,
      ...(status ? { status: status.status } : {}),
    };
  }

  async function refreshSession(req: Request): Promise<Response> {
    const token = bearerToken(req);
    if (!token) return json(401, xrpcError("AuthMissing", "Authentication Required"));
    const [grant] = await ctx.sql<Grant[]>`select * from local_sandbox.grants where token = ${token} and network = ${NETWORK}`;
    if (!grant || grant.kind !== "refresh") return json(400, xrpcError("InvalidToken", "Invalid token type"));
    const [used] = await ctx.sql<Grant[]>`
      update local_sandbox.grants set used_at = ${ctx.now()}
      where token = ${token} and used_at is null and revoked_at is null and expires_at > ${ctx.now()}
      returning *`;
    if (!used) return json(400, xrpcError("ExpiredToken", grant.expires_at && grant.expires_at <= ctx.now() ? "Token has expired" : "Token has been revoked"));
    return json(200, await sessionBody(used.account_id, await issueSession(used.account_id, used.client_id, used.family)));
  }

  async function getSession(req: Request): Promise<Response> {
    const grant = await session(req);
    return json(200, await sessionBody(grant.account_id));
  }

  async function getProfile(req: Request): Promise<Response> {
    await session(req);
    const actor = (new URL(req.url).searchParams.get("actor") ?? "").toLowerCase();
    const [account] = await ctx.sql<{ id: string; username: string; name: string; created_at: Date }[]>`
      select id, username, name, created_at from local_sandbox.accounts
      where network = ${NETWORK} and (id = ${actor} or username = ${actor})`;
    if (!account) return json(400, xrpcError("InvalidRequest", "Profile not found"));
    const [posts] = await ctx.sql<{ n: number }[]>`select count(*)::int as n from local_sandbox.bluesky_records where did = ${account.id}`;
    return json(200, {
      did: account.id,
      handle: account.username,
      displayName: account.name,
      avatar: `https://cdn.bsky.app/img/avatar/plain/${account.id}/sandbox@jpeg`,
      description: "",
      followersCount: await accountFollowers(ctx, NETWORK, account.id),
      followsCount: 120,
      postsCount: posts!.n,
      createdAt: account.created_at.toISOString(),
      indexedAt: account.created_at.toISOString(),
    });
  }

  async function uploadBlob(req: Request, call: Call): Promise<Response> {
    const grant = await session(req);
    await limit(call, `global:${grant.account_id}`, 3000, 300);
    const bytes = await readBytes(req, blueskySandboxConfig.blobMaxBytes, () => json(413, xrpcError("PayloadTooLarge", "request entity too large")));
    const declared = req.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase();
    const mimeType = sniffImage(bytes)?.mimeType ?? declared ?? "application/octet-stream";
    const cid = cidOf(0x55, bytes);
    // Blobs are content-addressed per repository: the same bytes uploaded by two accounts are two blobs.
    if (!(await findMedia(ctx, NETWORK, blobKey(grant.account_id, cid)))) {
      await createMedia(ctx, NETWORK, {
        id: blobKey(grant.account_id, cid),
        accountId: grant.account_id,
        state: "uploaded",
        mimeType,
        sizeBytes: bytes.byteLength,
        sha256: sha256Hex(bytes),
      });
    }
    return json(200, { blob: { $type: "blob", ref: { $link: cid }, mimeType, size: bytes.byteLength } });
  }

  async function createRecord(req: Request, call: Call): Promise<Response> {
    const grant = await session(req);
    const c = blueskySandboxConfig;
    const body = await readJsonObject(req, () => json(400, xrpcError("InvalidRequest", "Input must be a JSON object")));
    const account = (await accountById(ctx, NETWORK, grant.account_id))!;
    if (body.repo !== account.id && body.repo !== account.username) return json(400, xrpcError("InvalidRequest", "Invalid repo: not the session's account"));
    if (body.collection !== "app.bsky.feed.post") return json(400, xrpcError("InvalidRequest", "This sandbox accepts app.bsky.feed.post records only"));
    const record = body.record as Record<string, unknown> | undefined;
    const text = typeof record?.text === "string" ? record.text : "";
    await limit(call, `writes:${grant.account_id}`, c.writePointsPerHour, 3600, c.createPoints);

    const injected = await injectedFailure(ctx, NETWORK, grant.account_id, text);
    if (injected && injectable.has(injected)) return injectedResponse(injected, call);

    const invalid = recordProblem(record);
    if (invalid) return json(400, invalid);
    const images = await embeddedImages(record!, grant.account_id);
    if ("error" in images) return images.error;
    const rkey = tid(ctx.now());
    const uri = `at://${account.id}/app.bsky.feed.post/${rkey}`;
    const cid = cidOf(0x71, Buffer.from(JSON.stringify(record)));
    await ctx.sql`
      insert into local_sandbox.bluesky_records (uri, did, collection, rkey, cid, record, created_at)
      values (${uri}, ${account.id}, 'app.bsky.feed.post', ${rkey}, ${cid}, ${ctx.sql.json(record as never)}, ${ctx.now()})`;
    await recordPost(ctx, NETWORK, { id: uri, accountId: account.id, text, media: images.media });
    return json(200, { uri, cid, commit: { cid: cidOf(0x71, randomBytes(32)), rev: tid(ctx.now()) }, validationStatus: "valid" });
  }

  /** What the lexicon (and this sandbox's stricter facet check) says is wrong with a post record, if anything. */
  function recordProblem(record: Record<string, unknown> | undefined) {
    const c = blueskySandboxConfig;
    if (!record || typeof record !== "object") return xrpcError("InvalidRequest", "Input/record must be an object");
    if (record.$type !== "app.bsky.feed.post") return xrpcError("InvalidRequest", "Invalid $type: expected app.bsky.feed.post");
    if (typeof record.text !== "string") return invalidRecord("Record/text must be a string");
    if (graphemes(record.text) > c.textMaxGraphemes) return invalidRecord(`Record/text must not be longer than ${c.textMaxGraphemes} graphemes`);
    if (Buffer.byteLength(record.text) > c.textMaxBytes) return invalidRecord(`Record/text must not be longer than ${c.textMaxBytes} characters`);
    if (typeof record.createdAt !== "string" || Number.isNaN(Date.parse(record.createdAt))) return invalidRecord("Record/createdAt must be an valid atproto datetime");
    const textBytes = Buffer.byteLength(record.text);
    const facets = record.facets === undefined ? [] : record.facets;
    if (!Array.isArray(facets)) return invalidRecord("Record/facets must be an array");
    for (const [i, facet] of facets.entries()) {
      const index = (facet as { index?: { byteStart?: unknown; byteEnd?: unknown } })?.index;
      const { byteStart, byteEnd } = index ?? {};
      if (!Number.isInteger(byteStart) || !Number.isInteger(byteEnd) || (byteStart as number) < 0 || (byteEnd as number) <= (byteStart as number) || (byteEnd as number) > textBytes) {
        return invalidRecord(`Record/facets/${i}/index must be a byte range inside the text`);
      }
      const features = (facet as { features?: unknown }).features;
      if (!Array.isArray(features) || !features.length) return invalidRecord(`Record/facets/${i}/features must be a non-empty array`);
      for (const feature of features as { $type?: unknown; uri?: unknown; tag?: unknown }[]) {
        if (feature.$type === "app.bsky.richtext.facet#link" && (typeof feature.uri !== "string" || !URL.canParse(feature.uri))) {
          return invalidRecord(`Record/facets/${i}/features/0/uri must be a valid uri`);
        }
        if (feature.$type === "app.bsky.richtext.facet#tag" && (typeof feature.tag !== "string" || !feature.tag || Buffer.byteLength(feature.tag) > 640)) {
          return invalidRecord(`Record/facets/${i}/features/0/tag must be a non-empty string of at most 640 bytes`);
        }
      }
    }
    if (record.langs !== undefined && (!Array.isArray(record.langs) || record.langs.length > 3)) return invalidRecord("Record/langs must be an array of at most 3 languages");
    return undefined;
  }

  /** The images an `app.bsky.embed.images` embed points at: uploaded blobs of this account, each ≤ 1,000,000 bytes. */
  async function embeddedImages(record: Record<string, unknown>, accountId: string): Promise<{ media: PostMedia[] } | { error: Response }> {
    const embed = record.embed as { $type?: unknown; images?: unknown } | undefined;
    if (embed === undefined) return { media: [] };
    if (embed.$type !== "app.bsky.embed.images" || !Array.isArray(embed.images)) {
      return { error: json(400, invalidRecord("Record/embed must be an app.bsky.embed.images in this sandbox")) };
    }
    if (!embed.images.length || embed.images.length > blueskySandboxConfig.maxImages) {
      return { error: json(400, invalidRecord(`Record/embed/images must have 1 to ${blueskySandboxConfig.maxImages} items`)) };
    }
    const media: PostMedia[] = [];
    for (const [i, image] of (embed.images as { alt?: unknown; image?: { ref?: { $link?: unknown } } }[]).entries()) {
      if (typeof image.alt !== "string") return { error: json(400, invalidRecord(`Record/embed/images/${i}/alt must be a string`)) };
      const cid = String(image.image?.ref?.$link ?? "");
      const blob = await findMedia(ctx, NETWORK, blobKey(accountId, cid));
      if (!blob) return { error: json(400, xrpcError("BlobNotFound", `Could not find blob: ${cid}`)) };
      if (!blob.mime_type?.startsWith("image/")) {
        return { error: json(400, invalidRecord(`Record/embed/images/${i}/image mimeType (${blob.mime_type}) not accepted`)) };
      }
      if ((blob.size_bytes ?? 0) > blueskySandboxConfig.embedImageMaxBytes) {
        return { error: json(400, invalidRecord(`Record/embed/images/${i}/image file too big (max ${blueskySandboxConfig.embedImageMaxBytes} bytes)`)) };
      }
      media.push({ id: cid, mimeType: blob.mime_type, sizeBytes: blob.size_bytes });
    }
    return { media };
  }

  /** Bluesky's own answer for each failure category it has. */
  function injectedResponse(category: ErrorCategory, call: Call): Response {
    switch (category) {
      case "rate_limited":
        call.window = { limit: blueskySandboxConfig.writePointsPerHour, remaining: 0, reset: Math.floor(ctx.now().getTime() / 1000) + blueskySandboxConfig.injectedResetSeconds };
        return json(429, xrpcError("RateLimitExceeded", "Rate Limit Exceeded"));
      case "auth_error":
        return json(400, xrpcError("ExpiredToken", "Token has expired"));
      case "network_error":
        return json(502, xrpcError("UpstreamFailure", "Upstream Failure"));
      case "media_error":
        return json(400, xrpcError("BlobNotFound", `Could not find blob: ${cidOf(0x55, randomBytes(8))}`));
      default:
        return json(400, invalidRecord("Record/reply/root must be an object"));
    }
  }

  async function getRecord(req: Request): Promise<Response> {
    const q = new URL(req.url).searchParams;
    const repo = (q.get("repo") ?? "").toLowerCase();
    const [account] = await ctx.sql<{ id: string }[]>`
      select id from local_sandbox.accounts where network = ${NETWORK} and (id = ${repo} or username = ${repo})`;
    const uri = `at://${account?.id ?? repo}/${q.get("collection")}/${q.get("rkey")}`;
    const [row] = await ctx.sql<{ uri: string; cid: string; record: unknown }[]>`select uri, cid, record from local_sandbox.bluesky_records where uri = ${uri}`;
    if (!row) return json(400, xrpcError("RecordNotFound", `Could not locate record: ${uri}`));
    return json(200, { uri: row.uri, cid: row.cid, value: row.record });
  }

  /** `app.bsky.feed.getPosts?uris=…` (AppView, proxied by the PDS): up to 25 posts' views; unknown uris are left out. */
  async function getPosts(req: Request, call: Call): Promise<Response> {
    const grant = await session(req);
    await limit(call, `global:${grant.account_id}`, 3000, 300);
    const uris = new URL(req.url).searchParams.getAll("uris");
    if (!uris.length || uris.length > 25) return json(400, xrpcError("InvalidRequest", "uris must contain 1 to 25 items"));
    const posts = [];
    for (const uri of uris) {
      const post = await findPost(ctx, NETWORK, uri);
      if (post) posts.push(post);
    }
    const failure = await metricsFailure(ctx, NETWORK, posts);
    if (failure === "garbage") return garbageResponse();
    if (failure) return injectedResponse(failure, call);
    const views = [];
    for (const post of posts) {
      const m = await postMetrics(ctx, NETWORK, post);
      const [record] = await ctx.sql<{ cid: string; record: unknown }[]>`select cid, record from local_sandbox.bluesky_records where uri = ${post.id}`;
      const account = await accountById(ctx, NETWORK, post.account_id);
      views.push({
        uri: post.id,
        cid: record?.cid,
        author: { did: post.account_id, handle: account?.username },
        record: record?.record,
        replyCount: m.comments,
        repostCount: m.shares,
        likeCount: m.likes,
        quoteCount: m.quotes,
        indexedAt: post.created_at.toISOString(),
      });
    }
    return json(200, { posts: views });
  }

  async function deactivate(did: string): Promise<Response> {
    if (!(await accountById(ctx, NETWORK, did))) return json(404, { error: `no bluesky sandbox account ${did}` });
    await ctx.sql`
      insert into local_sandbox.bluesky_account_status (account_id, status) values (${did}, 'deactivated')
      on conflict (account_id) do update set status = excluded.status`;
    return json(200, { accountId: did, action: "deactivate" });
  }

  const routes = dispatcher<Call>(
    "bluesky sandbox",
    {
      "POST /__sandbox/accounts/:did/deactivate": (_req, params) => deactivate(params.did!),
      "* /__sandbox/*": (req, params) => handleControl(ctx, NETWORK, req, `/${params["*"]!}`),
      "POST /xrpc/com.atproto.server.createSession": (req, _params, call) => createSession(req, call),
      "POST /xrpc/com.atproto.server.refreshSession": (req) => refreshSession(req),
      "GET /xrpc/com.atproto.server.getSession": (req) => getSession(req),
      "GET /xrpc/app.bsky.actor.getProfile": (req) => getProfile(req),
      "POST /xrpc/com.atproto.repo.uploadBlob": (req, _params, call) => uploadBlob(req, call),
      "POST /xrpc/com.atproto.repo.createRecord": (req, _params, call) => createRecord(req, call),
      "GET /xrpc/com.atproto.repo.getRecord": (req) => getRecord(req),
      "GET /xrpc/app.bsky.feed.getPosts": (req, _params, call) => getPosts(req, call),
    },
    {
      // An XRPC method the PDS does not implement is 501; any other path, 404.
      notFound: (_method, path) =>
        path.startsWith("/xrpc/")
          ? json(501, xrpcError("MethodNotImplemented", "Method Not Implemented"))
          : json(404, xrpcError("NotFound", "Not Found")),
      methodNotAllowed: (method, _path, allow) =>
        json(405, xrpcError("InvalidRequest", `Incorrect HTTP method (${method}) expected ${allow.join(", ")}`)),
    },
  );

  return async (req, path) => {
    const call: Call = {};
    await ready();
    const res = await routes(req, path, call);
    if (call.window) {
      res.headers.set("ratelimit-limit", String(call.window.limit));
      res.headers.set("ratelimit-remaining", String(call.window.remaining));
      res.headers.set("ratelimit-reset", String(call.window.reset));
      res.headers.set("ratelimit-policy", call.policy ?? `${call.window.limit};w=3600`);
    }
    return res;
  };
}

/** Where a blob is kept in the shared media table: per account, since each repository has its own blobs. */
function blobKey(did: string, cid: string): string {
  return `${did}/${cid}`;
}

/** A JWT shaped like the PDS's (HS256 over header and claims), signed with a per-process key. */
function signJwt(typ: string, claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${encode({ typ, alg: "HS256" })}.${encode(claims)}`;
  return `${unsigned}.${createHmac("sha256", SIGNING_KEY).update(unsigned).digest("base64url")}`;
}

/** A `did:plc:` identifier: 24 base32 characters. */
function newDid(): string {
  return `did:plc:${base32(randomBytes(15)).slice(0, 24)}`;
}

/** A CIDv1 (sha2-256) for `codec` 0x55 (raw, blobs) or 0x71 (dag-cbor, records), multibase base32: `bafkrei…`/`bafyrei…`. */
function cidOf(codec: number, bytes: Uint8Array): string {
  const digest = createHash("sha256").update(bytes).digest();
  return `b${base32(Buffer.concat([Buffer.from([0x01, codec, 0x12, 0x20]), digest]))}`;
}

function base32(bytes: Uint8Array): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** A record key (TID): microseconds since the epoch and a 10-bit clock id, in 13 sortable base32 characters. */
function tid(now: Date): string {
  const alphabet = "234567abcdefghijklmnopqrstuvwxyz";
  let n = (BigInt(now.getTime()) * 1000n + BigInt(randomInt(0, 1000))) * 1024n + BigInt(randomInt(0, 1024));
  let out = "";
  for (let i = 0; i < 13; i++) {
    out = alphabet[Number(n & 31n)] + out;
    n >>= 5n;
  }
  return out;
}

function graphemes(text: string): number {
  let count = 0;
  for (const _ of new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(text)) count++;
  return count;
}
