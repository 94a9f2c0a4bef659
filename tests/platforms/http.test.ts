import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpClient, inProcessFetch, serveInProcess } from "../../src/platforms/http.js";
import { PlatformError } from "../../src/platforms/types.js";

/** The outbound helper every adapter uses: bounded in time and size, never crashing on a body it cannot parse. */

let server: Server;
let base: string;
const hanging = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url) {
      case "/json":
        return res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      case "/html-error":
        return res.writeHead(502, { "content-type": "text/html" }).end("<html><body>Bad Gateway</body></html>");
      case "/broken-json":
        return res.writeHead(200, { "content-type": "application/json" }).end('{"ok":');
      case "/hang":
        hanging.add(res);
        return;
      case "/slow-body":
        hanging.add(res);
        res.writeHead(200, { "content-type": "application/json" });
        return void res.write('{"partial":');
      case "/big":
        return res.writeHead(200, { "content-type": "application/json" }).end(`"${"x".repeat(10_000)}"`);
      case "/redirect":
        return res.writeHead(302, { location: "/json" }).end();
      case "/image":
        return res.writeHead(200, { "content-type": "image/png; charset=binary" }).end(Buffer.alloc(100, 1));
      case "/image-chunked":
        res.writeHead(200, { "content-type": "image/png" });
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(100, 1));
        return res.end();
      case "/image-declared-large":
        res.writeHead(200, { "content-type": "image/png", "content-length": "1000000" });
        return res.end(Buffer.alloc(10));
      default:
        return res.writeHead(404).end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

// A generous timeout for answers that come (a busy CI machine may take a moment), a short one for those that never do.
// Media downloads go through the outbound guard: this test's hosts are on loopback, as in the local home.
const http = createHttpClient({ service: "Test", timeoutMs: 5000, allowLoopback: true });
const impatient = createHttpClient({ service: "Test", timeoutMs: 300, allowLoopback: true });

async function failure(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

describe("platform HTTP helper", () => {
  it("parses JSON answers and keeps the status and headers", async () => {
    const res = await http.request({ url: `${base}/json` });
    expect(res).toMatchObject({ status: 200, ok: true, json: { ok: true }, text: '{"ok":true}' });
    expect(res.headers.get("content-type")).toBe("application/json");
  });

  it("hands HTML and malformed JSON bodies back as text, never throwing on them", async () => {
    const html = await http.request({ url: `${base}/html-error` });
    expect(html).toMatchObject({ status: 502, ok: false, json: undefined });
    expect(html.text).toContain("Bad Gateway");
    expect((await http.request({ url: `${base}/broken-json` })).json).toBeUndefined();
  });

  it("a network that does not answer in time is a network_error", async () => {
    const started = Date.now();
    const error = await failure(impatient.request({ url: `${base}/hang` }));
    expect(error.category).toBe("network_error");
    expect(error.message).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("a body that stalls half-way is a network_error too", async () => {
    expect((await failure(impatient.request({ url: `${base}/slow-body` }))).category).toBe("network_error");
  });

  it("a refused connection is a network_error naming the system error", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(http.request({ url: `http://127.0.0.1:${port}/` }));
    expect(error).toMatchObject({ category: "network_error", details: { platformCode: "ECONNREFUSED" } });
  });

  it("refuses an answer larger than the cap", async () => {
    const error = await failure(http.request({ url: `${base}/big`, maxResponseBytes: 1000 }));
    expect(error.category).toBe("unknown");
  });

  it("does not follow redirects on API calls", async () => {
    const res = await http.request({ url: `${base}/redirect` });
    expect(res.status).toBe(302);
  });

  it("sends form and JSON bodies with their content types", async () => {
    const seen: { type?: string; body: string }[] = [];
    const echo = createHttpClient({
      service: "Test",
      fetch: async (_url, init) => {
        seen.push({ type: new Headers(init?.headers).get("content-type") ?? undefined, body: String(init?.body) });
        return new Response("{}", { status: 200 });
      },
    });
    await echo.request({ method: "POST", url: `${base}/json`, form: { a: "1 2", skip: undefined } });
    await echo.request({ method: "POST", url: `${base}/json`, json: { b: 2 } });
    expect(seen).toEqual([
      { type: "application/x-www-form-urlencoded", body: "a=1+2" },
      { type: "application/json", body: '{"b":2}' },
    ]);
  });

  describe("media downloads", () => {
    it("downloads media within the limit, with its declared type", async () => {
      const media = await http.download(`${base}/image`, { maxBytes: 1000 });
      expect(media.bytes.byteLength).toBe(100);
      expect(media.contentType).toBe("image/png");
    });

    it("refuses media over the limit, declared or streamed, as a media_error", async () => {
      expect((await failure(http.download(`${base}/image-declared-large`, { maxBytes: 1000 }))).category).toBe("media_error");
      expect((await failure(http.download(`${base}/image-chunked`, { maxBytes: 500 }))).category).toBe("media_error");
    });

    it("a media host answering an error status, or a non-http URL, is a media_error", async () => {
      expect((await failure(http.download(`${base}/missing`, { maxBytes: 1000 }))).details.status).toBe(404);
      expect((await failure(http.download("file:///etc/passwd", { maxBytes: 1000 }))).category).toBe("media_error");
      expect((await failure(http.download("not a url", { maxBytes: 1000 }))).category).toBe("media_error");
    });

    it("a media host that never answers is a network_error", async () => {
      expect((await failure(impatient.download(`${base}/hang`, { maxBytes: 1000 }))).category).toBe("network_error");
    });

    it("follows a redirect to an allowed host", async () => {
      const media = await http.download(`${base}/redirect`, { maxBytes: 1000 });
      expect(new TextDecoder().decode(media.bytes)).toBe('{"ok":true}');
    });

    it("goes through the outbound guard: loopback is refused unless allowed, with a message naming no address", async () => {
      const cloud = createHttpClient({ service: "Test", timeoutMs: 5000, allowLoopback: false });
      const error = await failure(cloud.download(`${base}/image`, { maxBytes: 1000 }));
      expect(error.category).toBe("media_error");
      expect(error.message).toMatch(/refused: The address 127\.0\.0\.1 is a loopback address/);
    });

    it("a refused connection is a generic network_error, without the system error", async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const error = await failure(http.download(`http://127.0.0.1:${port}/a.png`, { maxBytes: 1000 }));
      expect(error.category).toBe("network_error");
      expect(error.message).toBe("media download /a.png failed: the media host could not be reached");
      expect(error.details.platformCode).toBeUndefined();
    });
  });
});

describe("a prefix this process serves itself (the local home's sandbox networks and functions)", () => {
  it("hands the request to the handler without a socket: same method, URL, headers and body", async () => {
    const seen: { method: string; url: string; auth: string | null; body: string }[] = [];
    const undo = serveInProcess(`${base}/in-process`, async (req) => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.get("authorization"), body: await req.text() });
      return Response.json({ served: "here" }, { status: 201, headers: { "x-rate-limit-remaining": "7" } });
    });
    try {
      const res = await http.request({ method: "POST", url: `${base}/in-process/2/tweets?x=1`, headers: { authorization: "Bearer t" }, json: { text: "hi" } });
      expect(res.status).toBe(201);
      expect(res.json).toEqual({ served: "here" });
      expect(res.headers.get("x-rate-limit-remaining")).toBe("7");
      expect(seen).toEqual([{ method: "POST", url: `${base}/in-process/2/tweets?x=1`, auth: "Bearer t", body: '{"text":"hi"}' }]);
      // Outside the prefix (a sibling path), the request goes out through fetch as before: the test server answers.
      expect((await http.request({ url: `${base}/json` })).json).toEqual({ ok: true });
      expect(seen).toHaveLength(1);
    } finally {
      undo();
    }
  });

  it("keeps the timeout: a handler that never answers is a network_error", async () => {
    const undo = serveInProcess(`${base}/in-process`, () => new Promise<Response>(() => {}));
    try {
      const error = await impatient.request({ url: `${base}/in-process/hang` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PlatformError);
      expect((error as PlatformError).category).toBe("network_error");
    } finally {
      undo();
    }
  });

  it("serves nothing once undone, and the longest registered prefix wins", async () => {
    const undoOuter = serveInProcess(base, async () => Response.json({ by: "outer" }));
    const undoInner = serveInProcess(`${base}/in-process`, async () => Response.json({ by: "inner" }));
    try {
      expect((await http.request({ url: `${base}/in-process/a` })).json).toEqual({ by: "inner" });
      expect((await http.request({ url: `${base}/elsewhere` })).json).toEqual({ by: "outer" });
    } finally {
      undoInner();
      undoOuter();
    }
    expect(inProcessFetch(`${base}/in-process/a`)).toBeUndefined();
    expect((await http.request({ url: `${base}/json` })).json).toEqual({ ok: true });
  });
});
