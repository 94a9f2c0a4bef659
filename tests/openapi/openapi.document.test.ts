import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { api, declaredStatuses, route, type AnyRouteDef } from "../../src/core/api.js";
import { created, Reply } from "../../src/core/http.js";
import { buildDocument, operationOf } from "../../src/openapi/document.js";
import { generatedDocument, loadFailures, loadFunctionRoutes } from "../../src/openapi/load.js";
import { postmanCollection } from "../../src/openapi/postman.js";
import { webhookEventTypes } from "../../src/webhooks/event-types.js";
import { useTestHome } from "../helpers/home.js";
import { checkAgainstDocument, ResponseDriftError } from "../helpers/openapi.js";

/**
 * The OpenAPI document cannot drift: it is generated from the route tables, it validates, it has exactly one
 * operation per route, and the home serves it (JSON and YAML) with the reference page beside it. Every response the
 * rest of the suite receives is checked against it by tests/helpers/openapi.ts (hooked into t.call and t.http).
 */
const t = useTestHome();

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; security: unknown[]; tags: string[]; responses: Record<string, unknown>; parameters?: { name: string; in: string }[]; requestBody?: unknown }>>;
  webhooks: Record<string, unknown>;
  components: Record<string, Record<string, unknown>>;
};

const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async function validateDocument(doc: unknown) {
  // The parser dereferences in place: give it a copy.
  return validate(structuredClone(doc) as never);
}

describe("the generated document", () => {
  it("is a valid OpenAPI 3.1 document (@readme/openapi-parser finds no error)", async () => {
    const doc = (await generatedDocument()) as Doc;
    expect(doc.openapi).toBe("3.1.0");
    const result = await validateDocument(doc);
    expect(result.valid ? [] : result.errors, JSON.stringify(result)).toEqual([]);
  });

  it("has exactly one operation per route of every function, and no other", async () => {
    const doc = (await generatedDocument()) as Doc;
    const routes = (await loadFunctionRoutes()).flatMap((fn) => Object.keys(fn.table).map((key) => operationOf(key)));
    const fromRoutes = routes.map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    const fromDocument = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).filter((m) => methods.includes(m)).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(loadFailures, "every function module imports").toEqual([]);
    expect(fromDocument).toEqual(fromRoutes);
    expect(new Set(fromRoutes).size).toBe(fromRoutes.length);
    expect(fromRoutes.length).toBeGreaterThan(40);
  });

  it("documents, per operation, its security, tag, path parameters, success answer and the error envelope", async () => {
    const doc = (await generatedDocument()) as Doc;
    const functions = await loadFunctionRoutes();
    const defs = new Map<string, AnyRouteDef>(
      functions.flatMap((fn) => Object.entries(fn.table).map(([key, def]) => {
        const op = operationOf(key);
        return [`${op.method} ${op.path}`, def] as const;
      })),
    );
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const def = defs.get(`${method} ${path}`)!;
        const where = `${method.toUpperCase()} ${path}`;
        expect(ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`).toBe(false);
        ids.add(op.operationId);
        expect(op.tags, where).toHaveLength(1);
        const expected = def.auth === "none" ? [] : def.auth === "session" ? [{ bearerAuth: [] }] : [{ apiKeyAuth: [] }, { bearerAuth: [] }];
        expect(op.security, where).toEqual(expected);
        for (const name of [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1])) {
          expect(op.parameters?.some((p) => p.in === "path" && p.name === name), `${where}: path parameter ${name}`).toBe(true);
        }
        expect(Object.keys(op.responses).some((s) => /^[23]\d\d$/.test(s)), `${where}: a success answer`).toBe(true);
        const successes = Object.keys(op.responses).filter((s) => /^[23]\d\d$/.test(s)).map(Number);
        expect(successes, `${where}: exactly the success statuses the route declares`).toEqual(declaredStatuses(def));
        expect(op.responses.default, where).toEqual({ $ref: "#/components/responses/Error" });
        expect(op.responses["500"], where).toEqual({ $ref: "#/components/responses/Error500" });
        if (def.auth !== "none") expect(op.responses["401"], where).toEqual({ $ref: "#/components/responses/Error401" });
        if (def.auth === "any") expect(op.responses["429"], where).toBeDefined();
        if (def.body) expect(op.requestBody, `${where}: request body`).toBeDefined();
      }
    }
    expect(Object.keys(doc.components.securitySchemes!)).toEqual(["apiKeyAuth", "bearerAuth"]);
    const post = doc.paths["/api/v1/post"]!.post!;
    expect(post.parameters).toContainEqual({ $ref: "#/components/parameters/IdempotencyKey" });
    expect(JSON.stringify(post.responses["201"])).toContain("X-RateLimit-Remaining");
    expect(JSON.stringify(post)).toContain("From the API contract");
    expect(Object.keys(doc.paths["/api/v1/webhooks/configure"]!.post!.responses).filter((s) => /^2/.test(s))).toEqual(["200", "201"]);
    const callback = doc.paths["/api/connect/callback/{platform}"]!.get!.responses["302"] as { headers: Record<string, unknown> };
    expect(callback.headers.Location).toBeDefined();
  });

  it("takes success statuses from the route's `status` only: a redirect pairs with a z.never() response, and only with one", () => {
    const handle = async () => ({ ok: true as const });
    const table = (def: AnyRouteDef) => [{ name: "t", table: { "GET /api/v1/thing": def } }];
    const ok = z.object({ ok: z.literal(true) });
    const statuses = (doc: unknown) => Object.keys((doc as Doc).paths["/api/v1/thing"]!.get!.responses).filter((s) => /^[23]/.test(s));
    expect(statuses(buildDocument(table({ auth: "none", response: ok, handle })))).toEqual(["200"]);
    expect(statuses(buildDocument(table({ auth: "none", response: ok, status: 202, handle })))).toEqual(["202"]);
    expect(statuses(buildDocument(table({ auth: "none", response: ok, status: [201, 200], handle })))).toEqual(["200", "201"]);
    expect(statuses(buildDocument(table({ auth: "none", response: z.never(), status: 302, handle })))).toEqual(["302"]);
    expect(() => buildDocument(table({ auth: "none", response: z.never(), handle }))).toThrow(/accepts nothing/);
    expect(() => buildDocument(table({ auth: "none", response: ok, status: 302, handle }))).toThrow(/accepts nothing/);
  });

  it("makes a Postman collection with one request per operation, authenticated as the operation says", async () => {
    const doc = (await generatedDocument()) as Doc;
    const collection = postmanCollection(doc as never);
    const requests = collection.item.flatMap((folder) => folder.item as { request: { method: string; url: { raw: string }; header: { key: string }[] } }[]);
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    expect(requests).toHaveLength(operations);
    const post = requests.find((r) => r.request.method === "POST" && r.request.url.raw === "{{baseUrl}}/api/v1/post")!;
    expect(post.request.header.map((h) => h.key)).toEqual(["X-API-Key", "Idempotency-Key", "Content-Type"]);
  });

  it("describes every webhook event's payload and both signature schemes", async () => {
    const doc = (await generatedDocument()) as Doc;
    expect(Object.keys(doc.webhooks).sort()).toEqual([...webhookEventTypes].sort());
    const text = JSON.stringify(doc.webhooks["post.published"]);
    expect(text).toContain("X-Webhook-Signature");
    expect(text).toContain("webhook-signature");
    expect(text).toContain("webhook-timestamp");
  });

  it("converts any zod schema a route may use: transforms, refinements, preprocess, pipes, dates, recursion, custom types", async () => {
    type Tree = { name: string; children: Tree[] };
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ name: z.string(), children: z.array(tree) }));
    const odd = route("POST /api/v1/odd/:oddId/:slug(\\d+)", {
      auth: "any",
      profile: "body",
      body: z.object({
        profileId: z.uuid().optional(),
        when: z.preprocess((v) => (typeof v === "string" ? new Date(v) : v), z.date()),
        count: z.string().transform(Number).pipe(z.number().int()),
        even: z.number().refine((n) => n % 2 === 0),
        anything: z.custom<Buffer>((v) => Buffer.isBuffer(v)),
        big: z.bigint().optional(),
        tree,
      }),
      query: z.object({ limit: z.coerce.number().int().default(10), at: z.string().transform((s) => new Date(s)).optional() }),
      response: z.object({ at: z.date(), n: z.number().transform(String), set: z.set(z.string()), tree }),
      handle: async () => ({ at: new Date(), n: 1, set: new Set<string>(), tree: { name: "a", children: [] } }),
    });
    const doc = buildDocument([{ name: "odd", table: { [odd.key]: odd.def } }]);
    const result = await validateDocument(doc);
    expect(result.valid ? [] : result.errors).toEqual([]);
    const op = (doc as unknown as Doc).paths["/api/v1/odd/{oddId}/{slug}"]!.post!;
    expect(op.parameters!.map((p) => `${p.in} ${p.name}`)).toEqual(["path oddId", "path slug", "query limit", "query at"]);
  });
});

describe("the document is served, and linked", () => {
  it("GET /api/v1/openapi.json and .yaml answer the same document without credentials; discovery links it", async () => {
    const json = await t.http("/api/v1/openapi.json");
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toContain("application/json");
    expect(json.body).toEqual(JSON.parse(JSON.stringify(await generatedDocument())));
    const yaml = await t.http("/api/v1/openapi.yaml");
    expect(yaml.status).toBe(200);
    expect(yaml.headers.get("content-type")).toContain("application/yaml");
    expect(parseYaml(yaml.body as string)).toEqual(json.body);
    const discovery = await t.call("GET", "/api/v1");
    expect(discovery.body.openapi).toMatch(/\/api\/v1\/openapi\.json$/);
    expect(discovery.body.endpoints).toContain("GET /api/v1/openapi.json");
  });

  it("the reference page is at /docs/ (/docs redirects), its Scalar bundle comes from this origin, not a CDN", async () => {
    const bare = await t.home.fetch(new Request(new URL("/docs", t.home.url)));
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe("/docs/");
    const page = await t.http("/docs/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = page.body as string;
    const scripts = [...html.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts).toEqual(["./vendor/scalar-api-reference.js", "./reference.js"]);
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|fonts)\./);
    expect(html).toContain("/api/v1/openapi.json");
    for (const src of scripts) {
      const res = await t.http(new URL(src, new URL("/docs/", t.home.url)).pathname);
      expect(res.status, src).toBe(200);
      expect(res.headers.get("content-type")).toContain("javascript");
    }
    const config = (await t.http("/docs/reference.js")).body as string;
    expect(config).toContain('url: "/api/v1/openapi.json"');
    expect(config).toContain("withDefaultFonts: false");
  });
});

describe("the local home's status check (src/core/api.ts)", () => {
  it("fails an answer whose status the route does not declare, as loudly as a body that does not fit its schema", async () => {
    const ok = z.object({ ok: z.literal(true) });
    const fn = api([
      route("GET /api/v1/status-check/plain", { auth: "none", response: ok, handle: async () => ({ ok: true as const }) }),
      route("GET /api/v1/status-check/undeclared", { auth: "none", response: ok, handle: async () => created({ ok: true as const }) }),
      route("GET /api/v1/status-check/declared", { auth: "none", response: ok, status: 201, handle: async () => created({ ok: true as const }) }),
      route("GET /api/v1/status-check/either", { auth: "none", response: ok, status: [200, 201], handle: async () => new Reply(200, { ok: true as const }) }),
      route("GET /api/v1/status-check/missing-200", { auth: "none", response: ok, status: 201, handle: async () => ({ ok: true as const }) }),
      route("GET /api/v1/status-check/raw", { auth: "none", response: z.never(), handle: async () => new Response(null, { status: 302, headers: { location: "/" } }) }),
      route("GET /api/v1/status-check/redirect", { auth: "none", response: z.never(), status: 302, handle: async () => new Response(null, { status: 302, headers: { location: "/" } }) }),
    ]);
    const statusOf = async (name: string) => (await fn(new Request(new URL(`/api/v1/status-check/${name}`, t.home.url)))).status;
    expect(await statusOf("plain")).toBe(200);
    expect(await statusOf("undeclared")).toBe(500);
    expect(await statusOf("declared")).toBe(201);
    expect(await statusOf("either")).toBe(200);
    expect(await statusOf("missing-200")).toBe(500);
    expect(await statusOf("raw")).toBe(500);
    expect(await statusOf("redirect")).toBe(302);
  });
});

describe("the response check (tests/helpers/openapi.ts)", () => {
  const ok = (body: unknown, status = 200) => ({ status, headers: new Headers({ "content-type": "application/json" }), body });

  it("refuses an undocumented field, a wrong type, an undocumented status and an unknown operation", async () => {
    const discovery = await t.call("GET", "/api/v1");
    await expect(checkAgainstDocument("GET", "/api/v1", ok(discovery.body))).resolves.toBeUndefined();
    await expect(checkAgainstDocument("GET", "/api/v1", ok({ ...discovery.body, extra: 1 }))).rejects.toThrow(ResponseDriftError);
    await expect(checkAgainstDocument("GET", "/api/v1", ok({ ...discovery.body, version: 1 }))).rejects.toThrow(/version/);
    await expect(checkAgainstDocument("GET", "/api/v1", ok(discovery.body, 201))).rejects.toThrow(/status 201/);
    await expect(checkAgainstDocument("GET", "/api/v1/nothing-here", ok({}))).rejects.toThrow(/does not have/);
  });

  it("checks errors against the envelope and skips paths outside the API", async () => {
    const envelope = { success: false, error: "Nope", code: "not_found", requestId: "abc" };
    await expect(checkAgainstDocument("GET", "/api/v1/nothing-here", ok(envelope, 404))).resolves.toBeUndefined();
    await expect(checkAgainstDocument("GET", "/api/v1/posts", ok({ error: "Nope" }, 404))).rejects.toThrow(/error envelope/);
    await expect(checkAgainstDocument("GET", "/sandbox/twitter/2/tweets", ok({ anything: true }))).resolves.toBeUndefined();
    await expect(checkAgainstDocument("GET", "/docs/", ok("<html>"))).resolves.toBeUndefined();
  });
});
