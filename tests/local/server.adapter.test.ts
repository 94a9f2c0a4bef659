import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonResponse } from "../../src/core/http.js";
import { listen, type FetchHandler } from "../../src/local/server.js";

/**
 * The local server's adapter between node:http and the functions' Fetch API (src/local/server.ts,
 * src/local/request.ts): what a function receives must behave as a `Request` in every way a function or an emulator
 * uses one, and what it answers must reach the client byte for byte.
 */
let server: http.Server;
let base: string;
let handler: FetchHandler = async () => new Response(null, { status: 204 });

beforeAll(async () => {
  server = await listen((req) => handler(req), 0);
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A raw HTTP exchange, so the test sees the headers and framing the server really wrote. */
function raw(options: http.RequestOptions & { body?: string }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("the Request a function receives", () => {
  it("is a Request with the method, the normalised absolute URL and every header", async () => {
    let seen: Record<string, unknown> = {};
    handler = async (req) => {
      seen = {
        isRequest: req instanceof Request,
        method: req.method,
        url: req.url,
        apiKey: req.headers.get("x-api-key"),
        accept: req.headers.get("accept"),
        body: req.body,
        bodyUsed: req.bodyUsed,
        aborted: req.signal.aborted,
        cloneUrl: req.clone().url,
        tag: Object.prototype.toString.call(req),
      };
      return new Response(null, { status: 204 });
    };
    const res = await raw({
      method: "GET",
      path: "/api/v1/../v1/profiles?limit=2&x=%20y",
      headers: { "X-API-Key": "ak_test", accept: ["application/json", "text/plain"] },
    });
    expect(res.status).toBe(204);
    expect(seen).toEqual({
      isRequest: true,
      method: "GET",
      url: `${base}/api/v1/profiles?limit=2&x=%20y`,
      apiKey: "ak_test",
      accept: "application/json, text/plain",
      body: null,
      bodyUsed: false,
      aborted: false,
      cloneUrl: `${base}/api/v1/profiles?limit=2&x=%20y`,
      tag: "[object Request]",
    });
  });

  it("reads a request body, once, through any of the body readers", async () => {
    const payload = JSON.stringify({ name: "Zoë's profile", n: 3 });
    let seen: Record<string, unknown> = {};
    handler = async (req) => {
      const copy = req.clone();
      seen = { json: await req.json(), text: await copy.text(), used: req.bodyUsed };
      let again: unknown;
      try {
        await req.text();
      } catch (error) {
        again = (error as Error).name;
      }
      seen.again = again;
      return jsonResponse(200, { ok: true });
    };
    const res = await raw({ method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: payload });
    expect(res.status).toBe(200);
    expect(seen).toEqual({ json: { name: "Zoë's profile", n: 3 }, text: payload, used: true, again: "TypeError" });
  });
});

describe("the answer the server writes", () => {
  it("writes a JSON answer whole, with its Content-Length in bytes and not chunked", async () => {
    const body = { message: "héllo wörld ✓", list: [1, 2, 3] };
    handler = async () => jsonResponse(201, body, { "x-extra": "1" });
    const res = await raw({ method: "GET", path: "/json" });
    expect(res.status).toBe(201);
    const text = JSON.stringify(body);
    expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(text)));
    expect(res.headers["transfer-encoding"]).toBeUndefined();
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(res.headers["x-extra"]).toBe("1");
    expect(res.headers["x-request-id"]).toEqual(expect.any(String));
    expect(res.body.toString("utf8")).toBe(text);
  });

  it("writes the same JSON when something read the answer's body before it was sent", async () => {
    handler = async () => {
      const res = jsonResponse(200, { read: "before" });
      await res.clone().text();
      return res;
    };
    const res = await raw({ method: "GET", path: "/json-read" });
    expect(res.body.toString("utf8")).toBe(JSON.stringify({ read: "before" }));
  });

  it("sends no body for HEAD and streams a body that arrives in several chunks", async () => {
    handler = async () => jsonResponse(200, { head: true });
    const head = await raw({ method: "HEAD", path: "/json" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);

    handler = async () => {
      const chunks = ["one,", "two,", "three"];
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      });
      return new Response(stream, { headers: { "content-type": "text/plain" } });
    };
    const streamed = await raw({ method: "GET", path: "/stream" });
    expect(streamed.headers["transfer-encoding"]).toBe("chunked");
    expect(streamed.body.toString("utf8")).toBe("one,two,three");
  });
});

describe("a JSON answer in the local home (its body made on first read)", () => {
  // listen() above has turned this on for the process, as the local home's server does.
  it("reads as a Response like any other, through every reader, once", async () => {
    const body = { name: "Zoë", list: [1, 2] };
    const text = JSON.stringify(body);
    const make = () => jsonResponse(200, body, { "x-extra": "1" });

    const res = make();
    expect(res).toBeInstanceOf(Response);
    expect([res.status, res.ok, res.headers.get("content-type"), res.headers.get("x-extra")]).toEqual([
      200,
      true,
      "application/json; charset=utf-8",
      "1",
    ]);
    expect(res.bodyUsed).toBe(false);
    const copy = res.clone();
    expect(await res.json()).toEqual(body);
    expect(res.bodyUsed).toBe(true);
    await expect(res.text()).rejects.toThrow(TypeError);
    expect(() => res.clone()).toThrow(TypeError);
    expect(await copy.text()).toBe(text);

    expect(new TextDecoder().decode(await make().arrayBuffer())).toBe(text);
    expect(await (await make().blob()).text()).toBe(text);
    const streamed = await new Response(make().body).text();
    expect(streamed).toBe(text);
    const rewrapped = make();
    const again = new Response(rewrapped.body, rewrapped);
    expect([again.status, again.headers.get("x-extra"), await again.text()]).toEqual([200, "1", text]);
  });

  it("has no body at all for a 204", async () => {
    const res = jsonResponse(204, { ignored: true });
    expect(res.body).toBeNull();
    expect(await res.text()).toBe("");
  });
});
