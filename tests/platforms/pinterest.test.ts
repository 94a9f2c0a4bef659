import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readinessOf, type ConnectionRow } from "../../src/connections/serialize.js";
import { catalog } from "../../src/platforms/catalog.js";
import type { HttpResponse } from "../../src/platforms/http.js";
import { adapterConfig, getAdapter } from "../../src/platforms/registry.js";
import { classifyPinterestError, createPinterestAdapter, firstLink, pinterestHosts } from "../../src/platforms/pinterest.js";
import { PlatformError, type AccountInfo, type MediaItem, type OAuthTokens, type PlatformAdapter } from "../../src/platforms/types.js";
import { followSandboxConsent } from "../../src/sandbox/consent.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Pinterest-specific guarantees beyond the shared contract: boards listed into the account's metadata (following
 * `bookmark`), pins on the default board with the text's first link, Pinterest's `{code, message}` errors, readiness
 * without a default board, and a post published end to end through the queue.
 */

const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "0.3", PUBLISH_RETRY_BASE_SECONDS: "0.3" } });
const redirectUri = "https://app.amplify.test/oauth/callback";
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==", "base64");

let mediaHost: Server;
let mediaBase: string;
let adapter: PlatformAdapter;
let tokens: OAuthTokens;
let account: AccountInfo;

const api = (path: string) => `${t.home.url}/sandbox/pinterest${path}`;

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

async function connect(user: string, withAdapter = adapter) {
  const url = withAdapter.authorizeUrl({ state: "s", codeChallenge: "unused", redirectUri, scopes: catalog.pinterest.scopes });
  const { code } = await followSandboxConsent(url, { user });
  const issued = await withAdapter.exchangeCode({ code: code!, codeVerifier: "unused", redirectUri });
  return { tokens: issued, account: await withAdapter.getAccount(issued.accessToken) };
}

const png = (): MediaItem => ({ url: `${mediaBase}/pixel.png`, mimeType: "image/png", sizeBytes: PNG.length });
const boards = (a: AccountInfo) => a.metadata!.boards as { id: string; name: string }[];

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/pixel.png") res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
    else if (req.url === "/not-an-image.png") res.writeHead(200, { "content-type": "image/png" }).end("<html>nope</html>");
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaBase = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  adapter = await getAdapter("pinterest");
  ({ tokens, account } = await connect("pinterest_specific"));
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

describe("Pinterest adapter and sandbox", () => {
  it("sends consent to www.pinterest.com/oauth/ with comma-separated scopes and no PKCE", () => {
    const real = createPinterestAdapter({ ...pinterestHosts, clientId: "app-id", clientSecret: "secret" });
    const url = new URL(real.authorizeUrl({ state: "st", codeChallenge: "ch", redirectUri, scopes: ["boards:read", "pins:write"] }));
    expect(`${url.origin}${url.pathname}`).toBe("https://www.pinterest.com/oauth/");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "app-id",
      redirect_uri: redirectUri,
      response_type: "code",
      scope: "boards:read,pins:write",
      state: "st",
    });
  });

  it("lists the account's boards into its metadata, following the bookmark page after page", async () => {
    expect(account.metadata).toMatchObject({ accountType: "PERSONAL" });
    expect(boards(account).map((b) => b.name)).toEqual(["Sandbox ideas", "Sandbox recipes"]);
    // The same adapter, with pages of one board: it must follow `bookmark` to find both.
    const onePerPage = createPinterestAdapter({
      ...adapterConfig("pinterest"),
      fetch: (input, init) => fetch(String(input).replace("page_size=250", "page_size=1"), init),
    });
    expect(boards(await onePerPage.getAccount(tokens.accessToken))).toEqual(boards(account));
  });

  it("pins the image to the default board, with the text as description and its first link as destination", async () => {
    const [, second] = boards(account);
    const text = "New recipe, see https://example.com/recipes/42. Enjoy!";
    const outcome = await adapter.publish({ accessToken: tokens.accessToken, account, text, media: [png()], settings: { boardId: second!.id } });
    expect(outcome).toEqual({ status: "published", externalPostId: expect.stringMatching(/^\d+$/), url: expect.stringMatching(/^https:\/\/www\.pinterest\.com\/pin\/\d+\/$/) });
    const pin = await fetch(api(`/v5/pins/${outcome.status === "published" ? outcome.externalPostId : ""}`), {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(await pin.json()).toMatchObject({ board_id: second!.id, description: text, link: "https://example.com/recipes/42", media: { media_type: "image" } });
  });

  it("without a default board nothing is sent; a board the account lacks is Pinterest's 404 code 40 (unknown)", async () => {
    const missing = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: "x", media: [png()], settings: {} }));
    expect(missing).toMatchObject({ category: "unknown", message: expect.stringContaining("No default board") });
    const elsewhere = await failure(adapter.publish({ accessToken: tokens.accessToken, account, text: "x", media: [png()], settings: { boardId: "123" } }));
    expect(elsewhere.category).toBe("unknown");
    expect(elsewhere.details).toMatchObject({ status: 404, platformCode: "40" });
  });

  it("Pinterest fetches the image itself: bytes that are not an image are code 235 (media_error), an unreachable URL code 1", async () => {
    const boardId = boards(account)[0]!.id;
    const broken = await failure(
      adapter.publish({ accessToken: tokens.accessToken, account, text: "broken", media: [{ url: `${mediaBase}/not-an-image.png`, mimeType: "image/png" }], settings: { boardId } }),
    );
    expect(broken).toMatchObject({ category: "media_error", details: { status: 403, platformCode: "235" } });
    const gone = await failure(
      adapter.publish({ accessToken: tokens.accessToken, account, text: "gone", media: [{ url: `${mediaBase}/missing.png`, mimeType: "image/png" }], settings: { boardId } }),
    );
    expect(gone).toMatchObject({ category: "unknown", details: { status: 400, platformCode: "1" } });
  });

  it("the token endpoint wants the app's Basic credentials and answers in Pinterest's {code, message} shape", async () => {
    const res = await fetch(api("/v5/oauth/token"), { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refreshToken! }) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 2, message: "Authentication failed." });
    const anonymous = await fetch(api("/v5/user_account"));
    expect(anonymous.status).toBe(401);
  });

  it("classifies Pinterest's errors from status and code, never from the message", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const res = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({
      status,
      ok: status < 300,
      headers: new Headers(headers),
      text: JSON.stringify(body),
      json: body,
    });
    expect(classifyPinterestError(res(401, { code: 2, message: "Authentication failed." }), now).category).toBe("auth_error");
    expect(classifyPinterestError(res(401, { code: 29, message: "You are not permitted to access that resource." }), now).category).toBe("auth_error");
    const limited = classifyPinterestError(res(429, { code: 8, message: "This request exceeded a rate limit." }, { "retry-after": "30" }), now);
    expect(limited).toMatchObject({ category: "rate_limited", details: { retryAfterSeconds: 30, platformCode: "8" } });
    expect(classifyPinterestError(res(403, { code: 233, message: "Your image is too small." }), now).category).toBe("media_error");
    expect(classifyPinterestError(res(403, { code: 29, message: "Board not found." }), now).category).toBe("unknown");
    expect(classifyPinterestError(res(404, { code: 40, message: "Board not found." }), now).category).toBe("unknown");
    expect(classifyPinterestError(res(502, "<html>Bad gateway</html>"), now).category).toBe("network_error");
  });

  it("takes the first http(s) link of the text as the pin's destination, without sentence punctuation", () => {
    expect(firstLink("Look (https://shop.example/a?b=1), then https://other.example")).toBe("https://shop.example/a?b=1");
    expect(firstLink("no links here")).toBeUndefined();
  });

  it("checks a board setting against the account's boards as last listed", () => {
    const check = (boardId: string, metadata: Record<string, unknown>) => adapter.checkSettings!({ boardId }, { metadata });
    expect(check(boards(account)[0]!.id, account.metadata!)).toEqual([]);
    expect(check("999", account.metadata!)).toEqual([{ field: "boardId", message: expect.stringContaining("not one of this Pinterest account's boards") }]);
    expect(check("999", {})).toEqual([{ field: "boardId", message: expect.stringContaining("sync the connection") }]);
  });

  it("readiness: no default board, then ready, then the board deleted on Pinterest", () => {
    const row = (settings: Record<string, unknown>): ConnectionRow => ({
      id: "c",
      profile_id: "p",
      platform: "pinterest",
      external_account_id: "1",
      username: "u",
      display_name: null,
      avatar_url: null,
      token_expires_at: null,
      scopes: catalog.pinterest.scopes,
      status: "connected",
      settings,
      metadata: { boards: [{ id: "11", name: "A" }] },
      last_error: null,
      last_synced_at: null,
      created_at: new Date(),
      has_refresh_token: true,
    });
    expect(readinessOf(row({}))).toMatchObject({ status: "not_ready", canPublish: false, missingRequirements: [expect.stringContaining("No default board")] });
    expect(readinessOf(row({ boardId: "11" }))).toMatchObject({ status: "ready", canPublish: true, missingRequirements: [] });
    expect(readinessOf(row({ boardId: "12" })).missingRequirements).toEqual([expect.stringContaining("no longer exists")]);
  });
});

describe("Pinterest through the whole pipeline", () => {
  it("connects, is not ready until a default board is set, then publishes an image post through the queue", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "pinterest");
    const listed = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections[0];
    expect(listed.readiness).toMatchObject({ status: "not_ready", canPublish: false, missingRequirements: [expect.stringContaining("No default board")] });

    const body = { platform: "pinterest", content: "Autumn palette https://example.com/palette", media: [{ public_url: `${mediaBase}/pixel.png`, mime_type: "image/png" }] };
    const refused = await t.call("POST", "/api/v1/post", { apiKey, body });
    expect(refused.status).toBe(400);
    expect(refused.body.details).toEqual([expect.objectContaining({ platform: "pinterest", rule: "account_ready", message: expect.stringContaining("No default board") })]);

    const boardId = await boardIdOf(id);
    const patched = await t.call("PATCH", `/api/v1/connections/${id}`, { apiKey, body: { settings: { boardId } } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.connection.readiness).toMatchObject({ status: "ready", canPublish: true });

    const res = await t.call("POST", "/api/v1/post", { apiKey, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const published = await eventually(async () => {
      const [row] = await t.sql`select external_post_id, external_url from public.post_targets where post_id = ${res.body.postId} and status = 'published'`;
      return row;
    }, 15_000, "the pin to be published");
    expect(published.external_url).toMatch(/^https:\/\/www\.pinterest\.com\/pin\/\d+\/$/);
    const [pin] = await t.sql`select board_id, link, mime_type, size_bytes from local_sandbox.pinterest_pins where id = ${published.external_post_id}`;
    expect(pin).toMatchObject({ board_id: boardId, link: "https://example.com/palette", mime_type: "image/png", size_bytes: PNG.length });

    // The board is deleted on Pinterest: after a sync, readiness says the default board is gone.
    await t.sql`delete from local_sandbox.pinterest_boards where id = ${boardId}`;
    const synced = await t.call("POST", `/api/v1/connections/${id}/sync`, { apiKey });
    expect(synced.body.connection.readiness).toMatchObject({ status: "not_ready", canPublish: false });
    const after = (await t.call("GET", "/api/v1/connections", { apiKey })).body.connections[0];
    expect(after.readiness.missingRequirements).toEqual([expect.stringContaining(`default board ${boardId} no longer exists`)]);
  });
});

async function boardIdOf(connectionId: string): Promise<string> {
  const [row] = await t.sql<{ metadata: { boards: { id: string }[] } }[]>`select metadata from public.connections where id = ${connectionId}`;
  return row!.metadata.boards[0]!.id;
}
