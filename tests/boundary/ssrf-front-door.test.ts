import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAccount, sandboxPosts } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey, signUp } from "../helpers/users.js";

/**
 * The outbound guard through the front door, in a home like `npm start` (OUTBOUND_ALLOW_LOOPBACK on, so the media
 * host below, on loopback, is reachable; nothing else inside is). One attempt per target, so a refusal fails it.
 */
const t = useTestHome({ env: { PUBLISH_MAX_ATTEMPTS: "1" } });

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

let mediaHost: Server;
let internal: Server;
let mediaBase: string;
const internalRequests: string[] = [];

beforeAll(async () => {
  // Stands for a service inside the network (an admin port, a metadata service): nothing may ever reach it.
  internal = createServer((req, res) => {
    internalRequests.push(req.url ?? "");
    res.writeHead(200, { "content-type": "image/png" }).end(PNG);
  });
  await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
  const internalPort = (internal.address() as AddressInfo).port;
  mediaHost = createServer((req, res) => {
    if (req.url === "/pixel.png") return res.writeHead(200, { "content-type": "image/png" }).end(PNG);
    // 0.0.0.0 reaches this machine on Linux, so a download that followed redirects blindly would reach `internal`.
    if (req.url === "/to-internal.png") return res.writeHead(302, { location: `http://0.0.0.0:${internalPort}/secret.png` }).end();
    if (req.url === "/to-metadata.png") return res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  mediaBase = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const server of [mediaHost, internal]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

// Issue 9, finding 2: a post's media URL that redirects inside made the publish worker fetch the inside address and
// re-upload its bytes to the caller's own social account.
describe("a publish never fetches media from a refused address, whatever the media host redirects to", () => {
  it("fails the target with a clear media error, and the inside service gets no request", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter");
    for (const path of ["/to-internal.png", "/to-metadata.png"]) {
      const res = await t.call("POST", "/api/v1/post", {
        apiKey,
        body: { platform: "twitter", content: `media ${path}`, media: [{ public_url: `${mediaBase}${path}`, mime_type: "image/png" }] },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const [target] = await t.sql<{ status: string; error_category: string; error_message: string }[]>`
        select status, error_category, error_message from public.post_targets where post_id = ${res.body.postId}`;
      expect(target).toMatchObject({ status: "failed", error_category: "media_error" });
      expect(target!.error_message).toContain(`media download ${path} refused: A redirect was refused`);
    }
    expect(internalRequests).toEqual([]);
    expect(await sandboxPosts(t, connectionId)).toEqual([]);
  });

  it("still publishes media from an allowed host (the control)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter");
    const res = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "a pixel", media: [{ public_url: `${mediaBase}/pixel.png`, mime_type: "image/png" }] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ status: "published" });
    expect(await sandboxPosts(t, connectionId)).toEqual([expect.objectContaining({ text: "a pixel" })]);
  });
});

// Issue 9, finding 12: the webhook URL check ran before the permission check, so anyone could use it to probe what a
// URL resolves to; now a caller without the right to manage the profile's webhooks learns nothing about the URL.
describe("a webhook URL is checked only once the caller may manage the profile's webhooks", () => {
  it("a stranger naming a private URL for someone else's profile or endpoint gets 404, not a URL error", async () => {
    const owner = await paidUserWithKey(t);
    const created = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: owner.apiKey, body: { url: "http://127.0.0.1:9/hook", events: ["post.published"] } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const endpointId = created.body.endpoint.id as string;

    const stranger = await paidUserWithKey(t);
    const strangerSession = await signUp(t);
    const privateUrl = "https://10.0.0.1/hook";
    const attempts = [
      t.call("POST", "/api/webhook-endpoints", { token: strangerSession.token, body: { profileId: owner.profileId, url: privateUrl, events: ["post.published"] } }),
      t.call("POST", "/api/v1/webhook-endpoints", { token: stranger.user.token, body: { profileId: owner.profileId, url: privateUrl, events: ["post.published"] } }),
      t.call("POST", "/api/v1/webhooks/configure", { token: stranger.user.token, body: { profileId: owner.profileId, url: privateUrl, events: ["post.published"] } }),
      t.call("PATCH", `/api/v1/webhook-endpoints/${endpointId}`, { apiKey: stranger.apiKey, body: { url: privateUrl } }),
      t.call("PATCH", `/api/webhook-endpoints/${endpointId}`, { token: strangerSession.token, body: { url: privateUrl } }),
    ];
    for (const res of await Promise.all(attempts)) {
      assertEnvelope(res, 404, "not_found");
      expect(JSON.stringify(res.body)).not.toMatch(/10\.0\.0\.1|private/);
    }
    const [row] = await t.sql`select url from public.webhook_endpoints where id = ${endpointId}`;
    expect(row!.url).toBe("http://127.0.0.1:9/hook");
  });

  it("the owner naming the same URL gets the URL error, 400 naming the field", async () => {
    const owner = await paidUserWithKey(t);
    const res = await t.call("POST", "/api/v1/webhook-endpoints", { apiKey: owner.apiKey, body: { url: "https://10.0.0.1/hook", events: ["post.published"] } });
    assertEnvelope(res, 400, "validation_error");
    expect(res.body.details).toEqual([{ field: "url", message: expect.stringContaining("private address") }]);
  });
});
