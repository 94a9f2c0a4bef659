import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertUrlWithoutDns, guardedFetch, OutboundError, type Resolver } from "../../src/core/net/guard.js";
import { createHttpClient } from "../../src/platforms/http.js";
import { PlatformError } from "../../src/platforms/types.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { resolverOf } from "../helpers/resolver.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * Issue 9, finding 2: media URLs were fetched by the publish worker with no address check, following redirects, so a
 * post could make the server read its own loopback services, cloud metadata or private networks. Every media download
 * now goes through the outbound guard (src/core/net/guard.ts), the same one webhook deliveries use
 * (tests/webhooks.ssrf.test.ts), and a post's `public_url` is checked at creation.
 *
 * This file's home runs as the cloud does: OUTBOUND_ALLOW_LOOPBACK is off. The guard itself is tested directly with
 * an injected resolver; redirects during a real publish are in ssrf-media-publish.test.ts.
 */

const t = useTestHome({ env: { OUTBOUND_ALLOW_LOOPBACK: "false" } });

const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");

const neverResolves: Resolver = async () => {
  throw new Error("an IP literal must not be resolved");
};

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

/** Addresses that reach inside, as a media URL's host, in every spelling we know. */
const insideHosts: [string, string][] = [
  ["127.0.0.1", "loopback"],
  ["127.1", "loopback (short form)"],
  ["0x7f000001", "loopback (hex)"],
  ["2130706433", "loopback (decimal)"],
  ["localhost", "loopback (name)"],
  ["[::1]", "IPv6 loopback"],
  ["10.0.0.1", "private 10/8"],
  ["172.16.5.4", "private 172.16/12"],
  ["192.168.1.1", "private 192.168/16"],
  ["100.64.0.1", "carrier-grade NAT"],
  ["169.254.169.254", "cloud metadata"],
  ["169.254.10.1", "link-local"],
  ["0.0.0.0", "unspecified"],
  ["224.0.0.1", "multicast"],
  ["255.255.255.255", "broadcast"],
  ["198.18.0.1", "benchmarking"],
  ["[::ffff:10.0.0.1]", "IPv4-mapped private"],
  ["[::ffff:7f00:1]", "IPv4-mapped loopback (hex)"],
  ["[::ffff:a9fe:a9fe]", "IPv4-mapped metadata"],
  ["[::10.0.0.1]", "IPv4-compatible private"],
  ["[64:ff9b::a00:1]", "NAT64 of a private address"],
  ["[2002:a9fe:a9fe::]", "6to4 of the metadata address"],
  ["[2001::1]", "Teredo"],
  ["[fc00::1]", "IPv6 unique local"],
  ["[fd00:ec2::254]", "IPv6 cloud metadata"],
  ["[fe80::1]", "IPv6 link-local"],
  ["[::]", "IPv6 unspecified"],
  ["[ff02::1]", "IPv6 multicast"],
  ["metadata.google.internal", "an internal name"],
];

describe("a media download never reaches a private, loopback or reserved address (finding 2)", () => {
  // As in the cloud: no loopback. The resolver throws, proving IP literals are judged without DNS.
  const cloud = createHttpClient({ service: "Test", timeoutMs: 2000, allowLoopback: false, resolve: neverResolves });
  // As in the local home: loopback admitted, nothing else.
  const local = createHttpClient({ service: "Test", timeoutMs: 2000, allowLoopback: true, resolve: neverResolves });

  for (const [host, what] of insideHosts) {
    it(`refuses ${what}: ${host}`, async () => {
      for (const scheme of ["https", "http"]) {
        const error = await failure(cloud.download(`${scheme}://${host}/image.png`, { maxBytes: 1000 }));
        expect(error.category).toBe("media_error");
        expect(error.message).toMatch(/^media download \/image\.png refused: /);
      }
    });
  }

  it("with loopback admitted (the local home), still refuses every address that is not loopback", async () => {
    for (const [host, what] of insideHosts) {
      if (what.includes("loopback")) continue;
      const error = await failure(local.download(`https://${host}/image.png`, { maxBytes: 1000 }));
      expect(error.category, host).toBe("media_error");
    }
  });

  it("refuses names that resolve to any refused address, without naming the address", async () => {
    const resolve = resolverOf({
      "mixed.example": ["93.184.215.14", "10.0.0.7"],
      "meta.example": ["169.254.169.254"],
      "v6.example": ["fd00::1"],
      "mapped.example": ["::ffff:127.0.0.1"],
      "loop.example": ["127.0.0.1"],
    });
    const client = createHttpClient({ service: "Test", timeoutMs: 2000, allowLoopback: false, resolve });
    for (const host of ["mixed.example", "meta.example", "v6.example", "mapped.example", "loop.example"]) {
      const error = await failure(client.download(`https://${host}/a.png`, { maxBytes: 1000 }));
      expect(error.category).toBe("media_error");
      expect(error.message).toBe(
        `media download /a.png refused: The host ${host} resolves to a private, loopback or reserved address; it must be reachable on the public internet`,
      );
    }
  });

  it("refuses credentials in the URL and schemes other than http(s)", async () => {
    const resolve = resolverOf({ "cdn.example": ["93.184.215.14"] });
    const client = createHttpClient({ service: "Test", timeoutMs: 2000, allowLoopback: false, resolve });
    expect((await failure(client.download("https://user:pw@cdn.example/a.png", { maxBytes: 1000 }))).message).toMatch(/credentials/);
    expect((await failure(client.download("file:///etc/passwd", { maxBytes: 1000 }))).category).toBe("media_error");
    expect((await failure(client.download("http://cdn.example/a.png", { maxBytes: 1000 }))).message).toMatch(/must use https/);
  });
});

describe("a media download checks every redirect hop and is bounded in size and time (finding 2)", () => {
  let mediaHost: Server;
  let internal: Server;
  let base: string;
  let internalPort: number;
  const internalRequests: string[] = [];
  const open = new Set<ServerResponse>();
  let streamedBytes = 0;

  beforeAll(async () => {
    // Stands for a service inside the network: nothing may ever reach it.
    internal = createServer((req, res) => {
      internalRequests.push(req.url ?? "");
      res.writeHead(200, { "content-type": "image/png" }).end(PNG);
    });
    await new Promise<void>((resolve) => internal.listen(0, "127.0.0.1", resolve));
    internalPort = (internal.address() as AddressInfo).port;

    mediaHost = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://x");
      const redirect = (location: string) => res.writeHead(302, { location }).end();
      switch (url.pathname) {
        case "/pixel.png":
          return res.writeHead(200, { "content-type": "image/png" }).end(PNG);
        case "/to-metadata":
          return redirect("http://169.254.169.254/latest/meta-data/");
        case "/to-private":
          return redirect("http://10.0.0.1/admin");
        case "/to-mapped":
          return redirect("http://[::ffff:10.0.0.1]/admin");
        // 0.0.0.0 reaches this machine on Linux: a fetch that follows blindly would reach the internal service.
        case "/to-unspecified":
          return redirect(`http://0.0.0.0:${internalPort}/secret`);
        case "/to-name":
          return redirect(`http://internal.example:${internalPort}/secret`);
        case "/to-file":
          return redirect("file:///etc/passwd");
        case "/to-nowhere":
          return res.writeHead(302).end();
        case "/hop": {
          // /hop?n=3 → /hop?n=2 → … → /pixel.png
          const n = Number(url.searchParams.get("n"));
          return redirect(n > 1 ? `/hop?n=${n - 1}` : "/pixel.png");
        }
        case "/declared-large":
          return res.writeHead(200, { "content-type": "image/png", "content-length": String(10 * 1024 * 1024) }).end(PNG);
        case "/endless": {
          // Streams until the client goes away: only the cap stops it.
          open.add(res);
          res.writeHead(200, { "content-type": "image/png" });
          const chunk = Buffer.alloc(16 * 1024, 1);
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) streamedBytes += chunk.length;
            if (!res.destroyed) res.once("drain", pump);
          };
          return pump();
        }
        case "/stall":
          open.add(res);
          res.writeHead(200, { "content-type": "image/png" });
          return void res.write(PNG.subarray(0, 8));
        case "/drip": {
          // A byte every 50 ms, forever: every read is quick, the whole never ends.
          open.add(res);
          res.writeHead(200, { "content-type": "image/png" });
          const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.from([1]))), 50);
          return;
        }
        default:
          return res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const res of open) res.destroy();
    for (const server of [mediaHost, internal]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  // The media host is on loopback, so this client admits loopback (as the local home does); nothing else.
  const resolve = resolverOf({ "internal.example": ["10.0.0.5"] });
  const client = createHttpClient({ service: "Test", timeoutMs: 3000, allowLoopback: true, resolve });

  it("follows up to 5 checked redirects to an allowed host", async () => {
    const media = await client.download(`${base}/hop?n=5`, { maxBytes: 1000 });
    expect(Buffer.from(media.bytes).equals(PNG)).toBe(true);
    expect(media.contentType).toBe("image/png");
  });

  it("refuses a sixth redirect", async () => {
    const error = await failure(client.download(`${base}/hop?n=6`, { maxBytes: 1000 }));
    expect(error).toMatchObject({ category: "media_error", message: "media download /hop refused: More than 5 redirects" });
  });

  for (const [path, reason] of [
    ["/to-metadata", /A redirect was refused: The address 169\.254\.169\.254 is a cloud metadata address/],
    ["/to-private", /A redirect was refused: The address 10\.0\.0\.1 is a private address/],
    ["/to-mapped", /A redirect was refused: The address ::ffff:a00:1 is a private address/],
    ["/to-unspecified", /A redirect was refused: The address 0\.0\.0\.0 is an unspecified address/],
    ["/to-name", /A redirect was refused: The host internal\.example resolves to a private, loopback or reserved address/],
    ["/to-file", /A redirect was refused: The URL must use https/],
    ["/to-nowhere", /A redirect without a valid Location/],
  ] as const) {
    it(`refuses a redirect ${path.slice(1)}, never connecting to its target`, async () => {
      const error = await failure(client.download(`${base}${path}`, { maxBytes: 1000 }));
      expect(error.category).toBe("media_error");
      expect(error.message).toMatch(reason);
      expect(error.message).not.toContain("10.0.0.5");
      expect(internalRequests).toEqual([]);
    });
  }

  it("the guard itself: redirects are not followed unless asked for, and then each hop is checked", async () => {
    const unfollowed = await guardedFetch({ url: `${base}/to-metadata`, timeoutMs: 2000, maxBytes: 1000, allowLoopback: true });
    expect(unfollowed).toMatchObject({ status: 302, headers: { location: "http://169.254.169.254/latest/meta-data/" } });
    const refused = await guardedFetch({ url: `${base}/to-unspecified`, timeoutMs: 2000, maxBytes: 1000, allowLoopback: true, maxRedirects: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(OutboundError);
    expect(refused).toMatchObject({ kind: "refused" });
    expect(internalRequests).toEqual([]);
  });

  it("refuses a declared size over the cap without reading the body", async () => {
    const error = await failure(client.download(`${base}/declared-large`, { maxBytes: 1000 }));
    expect(error).toMatchObject({ category: "media_error", message: "media download /declared-large: the media is larger than 1000 bytes" });
  });

  it("aborts a streaming body at the cap", async () => {
    const cap = 256 * 1024;
    const error = await failure(client.download(`${base}/endless`, { maxBytes: cap }));
    expect(error).toMatchObject({ category: "media_error", message: `media download /endless: the media is larger than ${cap} bytes` });
    // The connection was closed: the host stops writing soon after the cap (socket buffers aside).
    const seen = streamedBytes;
    await new Promise((r) => setTimeout(r, 200));
    expect(streamedBytes - seen).toBeLessThan(4 * 1024 * 1024);
    expect(streamedBytes).toBeLessThan(16 * 1024 * 1024);
  });

  it("aborts a body that stalls, and one that drips forever, at the time limit", async () => {
    for (const path of ["/stall", "/drip"]) {
      const started = Date.now();
      const error = await failure(client.download(`${base}${path}`, { maxBytes: 1_000_000, timeoutMs: 400 }));
      expect(error).toMatchObject({ category: "network_error", message: `media download ${path} did not finish within 400 ms` });
      expect(Date.now() - started).toBeLessThan(2500);
    }
  });

  it("aborts a name resolution that never answers at the time limit", async () => {
    const hanging = createHttpClient({ service: "Test", timeoutMs: 300, allowLoopback: false, resolve: () => new Promise(() => {}) });
    const started = Date.now();
    const error = await failure(hanging.download("https://slow-dns.example/a.png", { maxBytes: 1000 }));
    expect(error.category).toBe("network_error");
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("a post's media URL must be a public https URL when it is given directly (finding 2)", () => {
  it("the check needs no DNS and refuses what the download would", () => {
    for (const [host] of insideHosts) {
      expect(() => assertUrlWithoutDns(`https://${host}/a.png`, { allowLoopback: false }), host).toThrow();
    }
    expect(assertUrlWithoutDns("https://cdn.example/a.png", { allowLoopback: false }).href).toBe("https://cdn.example/a.png");
    expect(() => assertUrlWithoutDns("http://cdn.example/a.png", { allowLoopback: true })).toThrow(/must use https/);
    expect(assertUrlWithoutDns("http://127.0.0.1:9000/a.png", { allowLoopback: true }).hostname).toBe("127.0.0.1");
    expect(assertUrlWithoutDns("http://localhost:9000/a.png", { allowLoopback: true }).hostname).toBe("localhost");
    expect(() => assertUrlWithoutDns("http://10.0.0.1/a.png", { allowLoopback: true })).toThrow(/private/);
  });

  it("refuses, 400 naming the field, a post whose media URL is loopback, private, metadata or not https", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const urls = [
      ...insideHosts.map(([host]) => `https://${host}/image.png`),
      "http://127.0.0.1:8080/image.png",
      "http://cdn.example/image.png",
      "https://user:secret@cdn.example/image.png",
    ];
    for (const url of urls) {
      const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "hi", media: [{ public_url: url, mime_type: "image/png" }] } });
      expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(400);
      assertEnvelope(res, 400, "validation_error");
      expect(res.body.details, url).toEqual(expect.arrayContaining([expect.objectContaining({ field: "media.0.public_url" })]));
    }
  });

  it("accepts a public https URL, and media attached by id as before", async () => {
    const { apiKey } = await paidUserWithKey(t);
    await connectAccount(t, { apiKey }, "twitter");
    const scheduleDate = new Date(Date.now() + 3600_000).toISOString();
    const byUrl = await t.call("POST", "/api/v1/post", {
      apiKey,
      body: { platform: "twitter", content: "by url", scheduleDate, media: [{ public_url: "https://cdn.example/p.png", mime_type: "image/png" }] },
    });
    expect(byUrl.status, JSON.stringify(byUrl.body)).toBe(201);

    // Uploaded media lives in the home's own Storage (here on loopback): attached by id, its record is trusted.
    const upload = await t.call("POST", "/api/v1/media/upload-url", { apiKey, body: { fileName: "p.png", contentType: "image/png", fileSize: PNG.length } });
    expect(upload.status, JSON.stringify(upload.body)).toBe(200);
    const put = await fetch(upload.body.upload.signedUrl, { method: "PUT", headers: { "content-type": "image/png" }, body: new Uint8Array(PNG) });
    expect(put.status).toBe(200);
    const byId = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "by id", scheduleDate, media: [{ id: upload.body.media.id }] } });
    expect(byId.status, JSON.stringify(byId.body)).toBe(201);
  });
});
