import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { AmplifyError, createAmplifyClient, verifyContractSignature, verifyStandardSignature, verifyWebhook } from "../../sdk/src/index.js";
import { generateWebhookSecret, signatureHeaders } from "../../src/webhooks/signing.js";
import { sdkSchemaFile, sdkTypesFor } from "../../scripts/build-openapi.js";
import { generatedDocument } from "../../src/openapi/load.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { startWebhookReceiver } from "../helpers/webhook-receiver.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/**
 * The SDK (sdk/, `@amplify-scheduler/sdk`) against the local home: auth both ways, typed answers, AmplifyError,
 * retries that honour Retry-After, the generated Idempotency-Key, pagination and webhook verification; its types are
 * the current document's; and the README's example runs as written.
 */
const t = useTestHome();
const root = fileURLToPath(new URL("../..", import.meta.url));
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

let account: Awaited<ReturnType<typeof paidUserWithKey>>;
beforeAll(async () => {
  account = await paidUserWithKey(t);
  await connectAccount(t, { apiKey: account.apiKey }, "twitter");
});

/** A fetch that records every request it sends and lets a test answer some of them itself. */
function recordingFetch(intercept?: (req: Request, n: number) => Response | undefined) {
  const seen: Request[] = [];
  const fetchFn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push(req.clone());
    return intercept?.(req, seen.length) ?? fetch(req);
  }) as typeof fetch;
  return { seen, fetch: fetchFn };
}

describe("the SDK against the local home", () => {
  it("uses an API key or a session, and answers typed bodies", async () => {
    const byKey = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey });
    const { connections } = await byKey.GET("/api/v1/connections");
    expect(connections.map((c) => c.platform)).toEqual(["twitter"]);
    const bySession = createAmplifyClient({ baseUrl: t.home.url, accessToken: async () => account.user.token });
    const { profiles } = await bySession.GET("/api/v1/profiles");
    expect(profiles.map((p) => p.id)).toContain(account.profileId);
  });

  it("throws AmplifyError with status, code and requestId", async () => {
    const amplify = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey });
    const missing = await amplify.GET("/api/v1/posts/{postId}", { params: { path: { postId: randomUUID() } } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AmplifyError);
    expect(missing).toMatchObject({ status: 404, code: "not_found", requestId: expect.any(String) });
    const invalid = await amplify.POST("/api/v1/post", { body: { platforms: ["twitter"], content: "" } }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: "validation_error", details: expect.any(Array) });
    const anonymous = createAmplifyClient({ baseUrl: t.home.url, apiKey: "ak_not_a_real_key" });
    await expect(anonymous.GET("/api/v1/connections")).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
  });

  it("generates an Idempotency-Key for each POST /api/v1/post, and keeps one given", async () => {
    const rec = recordingFetch();
    const amplify = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey, fetch: rec.fetch });
    const body = { platforms: ["twitter" as const], content: `SDK idempotency ${randomUUID()}`, scheduleDate: inAnHour() };
    const first = await amplify.POST("/api/v1/post", { body });
    const second = await amplify.POST("/api/v1/post", { body });
    const keys = rec.seen.map((r) => r.headers.get("idempotency-key"));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
    expect(second.postId).not.toBe(first.postId);

    const key = `given-${randomUUID()}`;
    const again = { ...body, content: `SDK given key ${randomUUID()}` };
    const a = await amplify.POST("/api/v1/post", { body: again, headers: { "Idempotency-Key": key } });
    const b = await amplify.POST("/api/v1/post", { body: again, headers: { "Idempotency-Key": key } });
    expect(b.postId).toBe(a.postId);
    expect(rec.seen.slice(2).map((r) => r.headers.get("idempotency-key"))).toEqual([key, key]);
    // Other routes get none.
    await amplify.GET("/api/v1/connections");
    expect(rec.seen.at(-1)!.headers.get("idempotency-key")).toBeNull();
  });

  it("retries 429 (honouring Retry-After) and 5xx on safe requests, with the same Idempotency-Key", async () => {
    const busy = (n: number) => new Response(JSON.stringify({ success: false, error: "slow down", code: "rate_limited", requestId: `r${n}` }), {
      status: 429,
      headers: { "content-type": "application/json", "retry-after": "0" },
    });
    const rec = recordingFetch((_req, n) => (n <= 2 ? busy(n) : undefined));
    const amplify = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey, fetch: rec.fetch, baseDelayMs: 1 });
    const created = await amplify.POST("/api/v1/post", { body: { platforms: ["twitter"], content: `SDK retry ${randomUUID()}`, scheduleDate: inAnHour() } });
    expect(created.postId).toBeDefined();
    expect(rec.seen).toHaveLength(3);
    expect(new Set(rec.seen.map((r) => r.headers.get("idempotency-key"))).size).toBe(1);
    expect(await rec.seen[2]!.text()).toContain("SDK retry");

    const unavailable = recordingFetch(() => new Response("{}", { status: 503, headers: { "retry-after": "0" } }));
    const failing = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey, fetch: unavailable.fetch, maxRetries: 2, baseDelayMs: 1 });
    await expect(failing.GET("/api/v1/connections")).rejects.toMatchObject({ status: 503 });
    expect(unavailable.seen).toHaveLength(3);
    // A POST without an Idempotency-Key is not repeated after a 5xx: it may have been processed.
    const before = unavailable.seen.length;
    await expect(failing.POST("/api/v1/profiles", { body: { name: "never" } })).rejects.toMatchObject({ status: 503 });
    expect(unavailable.seen.length - before).toBe(1);

    const limited = recordingFetch((_req, n) => busy(n));
    const giveUp = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey, fetch: limited.fetch, maxRetries: 1, baseDelayMs: 1 });
    await expect(giveUp.GET("/api/v1/connections")).rejects.toMatchObject({ status: 429, code: "rate_limited", requestId: "r2", retryAfter: 0 });
  });

  it("paginates over nextCursor", async () => {
    const amplify = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey });
    for (let i = 0; i < 3; i++) {
      await amplify.POST("/api/v1/post", { body: { platforms: ["twitter"], content: `SDK page ${i} ${randomUUID()}`, scheduleDate: inAnHour() } });
    }
    const all = (await amplify.GET("/api/v1/posts", { params: { query: { limit: 100 } } })).posts.map((p) => p.id);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const walked: string[] = [];
    for await (const post of amplify.paginate("/api/v1/posts", { params: { query: { limit: 1 } } })) walked.push(post.id);
    expect(walked).toEqual(all);
  });
});

describe("webhook verification", () => {
  const body = JSON.stringify({ event_type: "post.published", timestamp: new Date().toISOString(), profile_id: randomUUID(), data: { post_id: randomUUID() } });

  it("verifies both schemes for generated and chosen secrets, and refuses tampering and stale timestamps", () => {
    for (const secret of [generateWebhookSecret(), "a-chosen-secret-of-some-length"]) {
      const now = Math.floor(Date.now() / 1000);
      const headers = new Headers(signatureHeaders(secret, `evt_${randomUUID()}`, now, body));
      expect(verifyWebhook(body, headers, secret, { scheme: "both" }).event_type).toBe("post.published");
      expect(verifyContractSignature(body, headers.get("x-webhook-signature"), secret)).toBe(true);
      expect(verifyStandardSignature(body, Object.fromEntries(headers), secret)).toBe(true);
      expect(() => verifyWebhook(body.replace("published", "failed"), headers, secret)).toThrow(AmplifyError);
      expect(() => verifyWebhook(body, headers, `${secret}x`, { scheme: "contract" })).toThrow(/does not verify/);
      expect(verifyStandardSignature(body, headers, secret, { now: new Date((now + 600) * 1000) })).toBe(false);
    }
  });
});

describe("webhook deliveries", () => {
  it("every delivered event fits the document's `webhooks` payload and verifies with the SDK", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const amplify = createAmplifyClient({ baseUrl: t.home.url, apiKey: account.apiKey });
      const secret = generateWebhookSecret();
      await amplify.POST("/api/v1/webhook-endpoints", { body: { url: receiver.url, events: ["*"], secret } });
      await amplify.POST("/api/v1/post", { body: { platforms: ["twitter"], content: `SDK webhook ${randomUUID()}`, scheduleDate: inAnHour() } });
      const [delivery] = await receiver.waitFor(1);
      const event = verifyWebhook(delivery!.body, delivery!.headers, secret, { scheme: "both" });
      expect(event.event_type).toBe("post.scheduled");

      const doc = (await generatedDocument()) as { webhooks: Record<string, { post: { requestBody: { content: { "application/json": { schema: object } } } } }> };
      const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => Ajv2020;
      const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
      ajv.addSchema(doc as object, "openapi");
      const validate = ajv.compile({ $ref: "openapi#/webhooks/post.scheduled/post/requestBody/content/application~1json/schema" });
      expect(validate(JSON.parse(delivery!.body)), ajv.errorsText(validate.errors)).toBe(true);
    } finally {
      await receiver.close();
    }
  });
});

describe("the SDK package", () => {
  it("its types are the current document's (run npm run build:openapi when this fails)", async () => {
    expect(readFileSync(sdkSchemaFile, "utf8") === (await sdkTypesFor(await generatedDocument())), "sdk/src/schema.ts is stale: npm run build:openapi").toBe(true);
  });

  it("the README's example runs as written against the local home", async () => {
    const readme = readFileSync(path.join(root, "sdk/README.md"), "utf8");
    const example = /## Example[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, "sdk/README.md has a ts block under ## Example").toBeDefined();
    expect(example!.trim().split("\n").length).toBeLessThanOrEqual(10);
    const file = path.join(root, "tests/openapi", `.readme-example-${process.pid}.mts`);
    writeFileSync(file, example!);
    try {
      // `amplify-source` (sdk/package.json exports) resolves the package to its sources, so no build is needed.
      const { stdout } = await promisify(execFile)(process.execPath, ["--conditions=amplify-source", "--import", "tsx", file], {
        cwd: root,
        env: { ...process.env, AMPLIFY_URL: t.home.url, AMPLIFY_API_KEY: account.apiKey },
        timeout: 60_000,
      });
      expect(stdout).toContain("connected: twitter");
      expect(stdout).toMatch(/created post [0-9a-f-]{36}/);
      expect(stdout.trim().split("\n").length).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
