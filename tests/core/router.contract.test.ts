import { describe, expect, it } from "vitest";
import { router } from "../../src/core/router.js";
import { useTestHome } from "../helpers/home.js";

describe("router: the one route table every API, emulator and sandbox uses", () => {
  const routes = router({
    "GET /v5/pins/:pinId(\\d+)": "pin",
    "DELETE /v5/boards/:boardId": "delete board",
    "GET /items/:id": "read item",
    "POST /items/:id": "update item",
    "POST /v2/publish/*": "publish",
    "* /__sandbox/*": "control",
  });

  it("finds the entry and its decoded parameters; tolerates a trailing slash", () => {
    expect(routes.match("GET", "/items/a%20b")).toEqual({ kind: "found", key: "GET /items/:id", value: "read item", params: { id: "a b" } });
    expect(routes.match("post", "/items/x/")).toMatchObject({ kind: "found", value: "update item", params: { id: "x" } });
  });

  it("a constrained parameter matches only what its pattern allows", () => {
    expect(routes.match("GET", "/v5/pins/123")).toMatchObject({ kind: "found", params: { pinId: "123" } });
    expect(routes.match("GET", "/v5/pins/12a")).toEqual({ kind: "not_found" });
  });

  it("a final * takes the rest of the path, raw; method * takes every method", () => {
    expect(routes.match("POST", "/v2/publish/https://example.com/a%2Fb?x")).toMatchObject({ params: { "*": "https://example.com/a%2Fb?x" } });
    expect(routes.match("POST", "/v2/publish/")).toEqual({ kind: "not_found" });
    expect(routes.match("PATCH", "/__sandbox/accounts/1/expire")).toMatchObject({ kind: "found", value: "control", params: { "*": "accounts/1/expire" } });
  });

  it("no path → not_found; the path under other methods only → method_not_allowed with those methods", () => {
    expect(routes.match("GET", "/nothing")).toEqual({ kind: "not_found" });
    expect(routes.match("DELETE", "/items/x")).toEqual({ kind: "method_not_allowed", allow: ["GET", "POST"] });
    expect(routes.match("GET", "/items/%E0%A4%A")).toEqual({ kind: "not_found" });
  });

  it("refuses a key that is not METHOD /path", () => {
    expect(() => router({ "/no-method": 1 })).toThrow(/METHOD \/path/);
  });
});

describe("sandboxes answer 404 and 405 (with Allow) in each network's own error shape", () => {
  const t = useTestHome();
  const sandbox = (path: string, init?: RequestInit) => fetch(`${t.home.url}/sandbox${path}`, init);

  it("X: code 34 for both", async () => {
    const missing = await sandbox("/twitter/2/nothing");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errors: [{ message: "Sorry, that page does not exist", code: 34 }] });
    const wrong = await sandbox("/twitter/2/users/me", { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
    expect(await wrong.json()).toMatchObject({ errors: [{ code: 34 }] });
  });

  it("Facebook and Instagram: Meta's Graph envelope", async () => {
    const missing = await sandbox("/facebook/v21.0/me/nothing");
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { code: 2500, message: "Unknown path components: /me/nothing" } });
    const wrong = await sandbox("/facebook/v21.0/me", { method: "DELETE" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
    expect(await wrong.json()).toMatchObject({ error: { code: 100, type: "GraphMethodException" } });
    const instagram = await sandbox("/instagram/v21.0/me", { method: "DELETE" });
    expect(instagram.status).toBe(405);
    expect(await instagram.json()).toMatchObject({ error: { code: 100, type: "GraphMethodException" } });
  });

  it("YouTube: Google's envelope; Bluesky: XRPC's; TikTok: its error object", async () => {
    const youtube = await sandbox("/youtube/youtube/v3/channels", { method: "DELETE" });
    expect(youtube.status).toBe(405);
    expect(await youtube.json()).toMatchObject({ error: { code: 405, errors: [{ reason: "methodNotAllowed" }] } });
    const bluesky = await sandbox("/bluesky/xrpc/com.atproto.server.createSession");
    expect(bluesky.status).toBe(405);
    expect(await bluesky.json()).toMatchObject({ error: "InvalidRequest" });
    const unknownMethod = await sandbox("/bluesky/xrpc/com.atproto.nothing");
    expect(unknownMethod.status).toBe(501);
    const tiktok = await sandbox("/tiktok/v2/user/info/", { method: "POST" });
    expect(tiktok.status).toBe(405);
    expect(tiktok.headers.get("allow")).toBe("GET");
  });

  it("the control endpoints, shared by every network", async () => {
    const wrong = await sandbox("/pinterest/__sandbox/posts", { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET");
    expect((await sandbox("/reddit/__sandbox/nothing")).status).toBe(404);
  });
});
