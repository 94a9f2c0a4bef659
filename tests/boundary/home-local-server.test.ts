import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { env } from "../../src/core/env.js";
import { useTestHome } from "../helpers/home.js";

/**
 * Issue 9, findings 13 and 14: the local home is explicitly local, and its server is reachable only as localhost.
 * A page on any web site can make the developer's browser send requests to 127.0.0.1 by rebinding its own DNS name
 * there (DNS rebinding); such requests carry the site's name as Host, which the server refuses. Requests below are
 * real HTTP requests to the home's port (node:http, so the Host header is ours to choose).
 */
const t = useTestHome({ port: 0, env: { LOCAL_ALLOWED_HOSTS: "tunnel.example.dev, My-Box.LAN:8080", AMPLIFY_HOME: "cloud" } });

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function request(pathname: string, headers: Record<string, string>, method = "GET"): Promise<Answer> {
  const { port } = new URL(t.home.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: Number(port), path: pathname, method, headers, setHost: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

// Finding 13.
describe("the local home runs as AMPLIFY_HOME=local, whatever it is handed", () => {
  it("sets AMPLIFY_HOME=local explicitly, so its local-only settings are accepted", () => {
    expect(process.env.AMPLIFY_HOME).toBe("local");
    expect(env()).toMatchObject({ AMPLIFY_HOME: "local", OUTBOUND_ALLOW_LOOPBACK: true, STRIPE_API_URL: t.home.url });
    // The sandbox's URL reaches the adapters through the home's platform configuration, not the environment.
    expect(env()).not.toHaveProperty("PLATFORM_SANDBOX_URL");
  });
});

// Finding 14.
describe("the local server answers only loopback Host names and the LOCAL_ALLOWED_HOSTS allow-list", () => {
  it("refuses a foreign Host with 403 in the error envelope", async () => {
    const { port } = new URL(t.home.url);
    for (const host of [
      "attacker.example",
      `attacker.example:${port}`,
      "localhost.attacker.example",
      "127.0.0.1.nip.io",
      "192.168.1.10",
      "[::ffff:7f00:1]",
      "tunnel.example.dev.attacker.example",
    ]) {
      for (const pathname of ["/api/v1", "/auth/v1/health", "/"]) {
        const res = await request(pathname, { host });
        expect(res.status, `${host} ${pathname}`).toBe(403);
        expect(res.body).toMatchObject({ success: false, code: "forbidden", error: expect.stringMatching(/localhost/), requestId: expect.any(String) });
        expect(res.headers["x-request-id"]).toBe(res.body.requestId);
      }
    }
    // A request with no Host at all is refused too (Node's HTTP server answers it 400 itself, before our check).
    expect([400, 403]).toContain((await request("/api/v1", {})).status);
  });

  it("answers localhost, *.localhost, 127.0.0.0/8 and [::1], with or without the port", async () => {
    const { port } = new URL(t.home.url);
    for (const host of ["localhost", `localhost:${port}`, "LOCALHOST", `app.localhost:${port}`, `127.0.0.1:${port}`, "127.0.0.2", `[::1]:${port}`, "[::1]"]) {
      const res = await request("/api/v1", { host });
      expect(res.status, host).toBe(200);
    }
  });

  it("answers the names listed in LOCAL_ALLOWED_HOSTS, and only those", async () => {
    expect((await request("/api/v1", { host: "tunnel.example.dev" })).status).toBe(200);
    expect((await request("/api/v1", { host: "my-box.lan:8080" })).status).toBe(200);
    expect((await request("/api/v1", { host: "other.example.dev" })).status).toBe(403);
  });
});

// Finding 14.
describe("the emulators send no wildcard CORS", () => {
  const probes = [
    "/auth/v1/health",
    "/auth/v1/token?grant_type=password",
    "/storage/v1/object/public/post-media/nothing.png",
    "/qstash/v2/messages/nothing",
    "/sandbox/twitter/2/users/me",
    "/v1/customers",
    "/stripe/checkout/nothing",
  ];

  it("a foreign origin gets no Access-Control-Allow-Origin from any of them, preflight or not", async () => {
    for (const pathname of probes) {
      for (const method of ["OPTIONS", "GET", "POST"]) {
        const res = await request(pathname, { host: "localhost", origin: "https://attacker.example", "access-control-request-method": "POST" }, method);
        expect(res.headers["access-control-allow-origin"], `${method} ${pathname}`).toBeUndefined();
      }
    }
  });

  it("a loopback origin is at most reflected, never answered with *", async () => {
    for (const pathname of probes) {
      const res = await request(pathname, { host: "localhost", origin: "http://localhost:3000" }, "OPTIONS");
      expect([undefined, "http://localhost:3000"], pathname).toContain(res.headers["access-control-allow-origin"]);
    }
  });

  it("no emulator or sandbox source answers Access-Control-Allow-Origin: *", () => {
    const root = path.resolve(import.meta.dirname, "../../src");
    const offenders: string[] = [];
    for (const dir of ["local", "sandbox"]) {
      for (const file of readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })) {
        if (!file.endsWith(".ts")) continue;
        const text = readFileSync(path.join(root, dir, file), "utf8");
        if (/access-control-allow-origin["']?\s*[:,]\s*["']\*["']/i.test(text)) offenders.push(`${dir}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
