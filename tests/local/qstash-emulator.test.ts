import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Client, QstashError, Receiver } from "@upstash/qstash";
import { decodeJwt, decodeProtectedHeader } from "jose";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backoffMs, createQStashEmulator, type QStashEmulator, type QStashEmulatorOptions } from "../../src/local/qstash-emulator.js";
import { listen } from "../../src/local/server.js";
import { eventually } from "../helpers/eventually.js";
import { cloneTemplateDatabase, useTestHome } from "../helpers/home.js";

/**
 * The local QStash emulator through the front door: the real `@upstash/qstash` Client publishes to it over HTTP, and
 * its deliveries arrive at a plain node:http receiver that checks them with the real `Receiver`.
 */
const t = useTestHome();

// --- a destination that records what QStash delivers ----------------------------------------------------------------

interface Hit {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

type Respond = (hit: Hit, hitsSoFar: Hit[]) => { status: number; headers?: Record<string, string>; delayMs?: number };

interface Destination {
  url: (path: string) => string;
  hits: (path: string) => Hit[];
  /** How the destination answers requests to `path` (default: 200). */
  on: (path: string, respond: Respond) => void;
  close: () => Promise<void>;
}

async function startDestination(): Promise<Destination> {
  const hits: Hit[] = [];
  const responders = new Map<string, Respond>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const hit: Hit = { path: req.url ?? "/", method: req.method ?? "", headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      const earlier = hits.filter((h) => h.path === hit.path);
      hits.push(hit);
      const answer = responders.get(hit.path)?.(hit, earlier) ?? { status: 200 };
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(answer.status, answer.headers).end("answer body");
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits: (path) => hits.filter((h) => h.path === path),
    on: (path, respond) => void responders.set(path, respond),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** GET /v2/messages/:id once the message reached `state` (the emulator's addition to QStash's Message). */
function stateOf(client: Client, messageId: string, state: string) {
  return eventually(async () => {
    const message = await client.messages.get(messageId);
    return (message as { state?: string }).state === state && message;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniquePath = (name: string) => `/${name}/${randomBytes(4).toString("hex")}`;
const header = (hit: Hit, name: string) => hit.headers[name.toLowerCase()] as string | undefined;

// --- standalone emulator instances (own token, keys and tuning) ------------------------------------------------------

interface RunningEmulator {
  emulator: QStashEmulator;
  client: Client;
  baseUrl: string;
  receiver: Receiver;
  close: () => Promise<void>;
}

/** An emulator on `databaseUrl` with its own Postgres client, served on a free port, as a second process would run it. */
async function startEmulator(
  databaseUrl: string,
  credentials: { token: string; currentSigningKey: string; nextSigningKey: string },
  tuning: Partial<QStashEmulatorOptions> = {},
): Promise<RunningEmulator> {
  const sql = postgres(databaseUrl, { max: 4, prepare: false, onnotice: () => {} });
  const emulator = await createQStashEmulator({ sql, ...credentials, ...tuning });
  const server = await listen(emulator.handler, 0);
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/qstash`;
  return {
    emulator,
    baseUrl,
    client: new Client({ baseUrl, token: credentials.token, retry: false }),
    receiver: new Receiver({ currentSigningKey: credentials.currentSigningKey, nextSigningKey: credentials.nextSigningKey }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await emulator.stop();
      await sql.end({ timeout: 5 });
    },
  };
}

const newCredentials = () => ({
  token: randomBytes(16).toString("base64url"),
  currentSigningKey: `sig_${randomBytes(12).toString("base64url")}`,
  nextSigningKey: `sig_${randomBytes(12).toString("base64url")}`,
});

let dest: Destination;
beforeAll(async () => {
  dest = await startDestination();
});
afterAll(async () => {
  await dest?.close();
});

// --- the emulator the local home mounts at /qstash -----------------------------------------------------------------------

describe("QStash emulator in the local home", () => {
  const client = () => new Client({ baseUrl: `${t.home.url}/qstash`, token: process.env.QSTASH_TOKEN!, retry: false });
  const receiver = () =>
    new Receiver({ currentSigningKey: t.home.secrets.qstashCurrentSigningKey, nextSigningKey: t.home.secrets.qstashNextSigningKey });

  it("an unknown path is 404 and a known path under another method 405 with Allow, in QStash's error shape", async () => {
    const auth = { authorization: `Bearer ${process.env.QSTASH_TOKEN!}` };
    const missing = await fetch(`${t.home.url}/qstash/v2/schedules`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: "not found: GET /v2/schedules" });
    const wrong = await fetch(`${t.home.url}/qstash/v2/batch`, { headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("POST");
    expect(await wrong.json()).toEqual({ error: "method not allowed: GET /v2/batch" });
    // Without the token, nothing is routed.
    expect((await fetch(`${t.home.url}/qstash/v2/schedules`)).status).toBe(401);
  });

  it("delivers at once, signed so that @upstash/qstash's Receiver accepts it, with QStash's headers", async () => {
    const path = uniquePath("immediate");
    const body = { hello: "wörld", n: 1 };
    const sentAt = Date.now();
    const published = await client().publishJSON({ url: dest.url(path), body });
    expect(published).toEqual({ messageId: expect.stringMatching(/^msg_[0-9A-Za-z]{27}$/), url: dest.url(path) });

    const [hit] = await eventually(() => dest.hits(path).length > 0 && dest.hits(path));
    expect(hit!.at - sentAt).toBeLessThan(1000);
    expect(hit!.method).toBe("POST");
    expect(hit!.body.toString("utf8")).toBe(JSON.stringify(body));
    expect(header(hit!, "content-type")).toBe("application/json");
    expect(header(hit!, "user-agent")).toBe("Upstash-QStash");
    expect(header(hit!, "upstash-message-id")).toBe(published.messageId);
    expect(header(hit!, "upstash-retried")).toBe("0");

    const signature = header(hit!, "upstash-signature")!;
    const raw = hit!.body.toString("utf8");
    await expect(receiver().verify({ signature, body: raw, url: dest.url(path) })).resolves.toBe(true);
    await expect(receiver().verify({ signature, body: raw, url: dest.url("/elsewhere") })).rejects.toThrow(/invalid subject/);
    await expect(receiver().verify({ signature, body: `${raw} `, url: dest.url(path) })).rejects.toThrow(/body hash/);

    expect(decodeProtectedHeader(signature)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = decodeJwt(signature);
    expect(claims).toEqual({
      iss: "Upstash",
      sub: dest.url(path),
      iat: expect.any(Number),
      nbf: claims.iat,
      exp: claims.iat! + 300,
      jti: expect.any(String),
      body: createHash("sha256").update(hit!.body).digest("base64url"),
    });

    const message = await stateOf(client(), published.messageId, "DELIVERED");
    expect(message).toMatchObject({ messageId: published.messageId, url: dest.url(path), method: "POST", body: raw, maxRetries: 3 });
    expect(message).toMatchObject({ retried: 0, responseStatus: 200 });
  });

  it("passes the body through byte for byte with its Content-Type, text or binary", async () => {
    const textPath = uniquePath("text");
    const binaryPath = uniquePath("binary");
    const text = "  line one\n\tline two ✓ \r\n";
    const bytes = new Uint8Array([0, 255, 128, 10, 13, 0xc3]);
    await client().publish({ url: dest.url(textPath), body: text, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    await client().publish({ url: dest.url(binaryPath), body: new Blob([bytes]), headers: { "Content-Type": "application/octet-stream" } });

    const [textHit] = await eventually(() => dest.hits(textPath).length > 0 && dest.hits(textPath));
    const [binaryHit] = await eventually(() => dest.hits(binaryPath).length > 0 && dest.hits(binaryPath));
    expect(textHit!.body.equals(Buffer.from(text, "utf8"))).toBe(true);
    expect(header(textHit!, "content-type")).toBe("text/plain; charset=utf-8");
    expect(binaryHit!.body.equals(Buffer.from(bytes))).toBe(true);
    expect(header(binaryHit!, "content-type")).toBe("application/octet-stream");
    // The signature covers the exact bytes.
    expect(decodeJwt(header(binaryHit!, "upstash-signature")!).body).toBe(createHash("sha256").update(bytes).digest("base64url"));
  });

  it("honours Upstash-Not-Before and Upstash-Delay: never early, and within a second after", async () => {
    const notBeforePath = uniquePath("not-before");
    const delayPath = uniquePath("delay");
    const notBefore = Math.floor(Date.now() / 1000) + 2;
    const sentAt = Date.now();
    const [scheduled] = await Promise.all([
      client().publishJSON({ url: dest.url(notBeforePath), body: { at: notBefore }, notBefore }),
      client().publishJSON({ url: dest.url(delayPath), body: { delay: "2s" }, delay: "2s" }),
    ]);

    const pending = await client().messages.get(scheduled.messageId);
    expect(pending).toMatchObject({ state: "CREATED", notBefore: notBefore * 1000 });
    expect(dest.hits(notBeforePath)).toHaveLength(0);

    const [early] = await eventually(() => dest.hits(notBeforePath).length > 0 && dest.hits(notBeforePath));
    expect(early!.at).toBeGreaterThanOrEqual(notBefore * 1000);
    expect(early!.at).toBeLessThan(notBefore * 1000 + 1000);
    const [delayed] = await eventually(() => dest.hits(delayPath).length > 0 && dest.hits(delayPath));
    expect(delayed!.at - sentAt).toBeGreaterThanOrEqual(2000);
    expect(delayed!.at - sentAt).toBeLessThan(3000);
  });

  it("accepts a duplicate deduplication id (202, same messageId, deduplicated) without enqueueing it", async () => {
    const path = uniquePath("dedup");
    const deduplicationId = `dedup-${randomBytes(4).toString("hex")}`;
    const first = await client().publishJSON({ url: dest.url(path), body: { n: 1 }, deduplicationId });
    expect(first).toEqual({ messageId: expect.any(String), url: dest.url(path) });

    const second = await client().publishJSON({ url: dest.url(path), body: { n: 2 }, deduplicationId });
    expect(second).toEqual({ messageId: first.messageId, url: dest.url(path), deduplicated: true });

    // On the wire: 202 Accepted, QStash's answer to a duplicate.
    const raw = await fetch(`${t.home.url}/qstash/v2/publish/${dest.url(path)}`, {
      method: "POST",
      headers: { authorization: `Bearer ${process.env.QSTASH_TOKEN}`, "upstash-deduplication-id": deduplicationId },
      body: "third",
    });
    expect(raw.status).toBe(202);
    expect(await raw.json()).toEqual({ messageId: first.messageId, url: dest.url(path), deduplicated: true });

    await eventually(() => dest.hits(path).length > 0);
    await sleep(400);
    expect(dest.hits(path).map((h) => h.body.toString())).toEqual([JSON.stringify({ n: 1 })]);
  });

  it("deduplicates on content with Upstash-Content-Based-Deduplication", async () => {
    const path = uniquePath("content-dedup");
    const publish = (body: unknown) => client().publishJSON({ url: dest.url(path), body, contentBasedDeduplication: true });
    const a = await publish({ same: true });
    const b = await publish({ same: true });
    const c = await publish({ same: false });
    expect(b).toEqual({ messageId: a.messageId, url: dest.url(path), deduplicated: true });
    expect(c.messageId).not.toBe(a.messageId);
    expect(c.deduplicated).toBeUndefined();
    await eventually(() => dest.hits(path).length === 2);
    await sleep(300);
    expect(dest.hits(path)).toHaveLength(2);
  });

  it("publishes a batch (POST /v2/batch) and answers one result per message, in order", async () => {
    const paths = [uniquePath("batch-a"), uniquePath("batch-b"), uniquePath("batch-c")];
    const results = await client().batchJSON(paths.map((path, i) => ({ url: dest.url(path), body: { i } })));
    expect(results).toEqual(paths.map((path) => ({ messageId: expect.stringMatching(/^msg_/), url: dest.url(path) })));
    expect(new Set(results.map((r) => r.messageId)).size).toBe(3);

    for (const [i, path] of paths.entries()) {
      const [hit] = await eventually(() => dest.hits(path).length > 0 && dest.hits(path));
      expect(hit!.body.toString()).toBe(JSON.stringify({ i }));
      expect(header(hit!, "upstash-message-id")).toBe(results[i]!.messageId);
      expect(header(hit!, "content-type")).toBe("application/json");
      await expect(receiver().verify({ signature: header(hit!, "upstash-signature")!, body: hit!.body.toString(), url: dest.url(path) })).resolves.toBe(true);
    }
  });

  it("deduplicates inside a batch and against earlier publishes, as publishing one by one would", async () => {
    const path = uniquePath("batch-dedup");
    const earlierId = `dedup-${randomBytes(4).toString("hex")}`;
    const sharedId = `dedup-${randomBytes(4).toString("hex")}`;
    const earlier = await client().publishJSON({ url: dest.url(path), body: { n: "earlier" }, deduplicationId: earlierId });
    const results = await client().batchJSON([
      { url: dest.url(path), body: { n: "a" }, deduplicationId: sharedId },
      { url: dest.url(path), body: { n: "b" }, deduplicationId: earlierId },
      { url: dest.url(path), body: { n: "c" }, deduplicationId: sharedId },
      { url: dest.url(path), body: { n: "d" } },
    ]);
    expect(results).toEqual([
      { messageId: expect.stringMatching(/^msg_/), url: dest.url(path) },
      { messageId: earlier.messageId, url: dest.url(path), deduplicated: true },
      { messageId: results[0]!.messageId, url: dest.url(path), deduplicated: true },
      { messageId: expect.stringMatching(/^msg_/), url: dest.url(path) },
    ]);
    await eventually(() => dest.hits(path).length >= 3);
    await sleep(400);
    expect(dest.hits(path).map((h) => JSON.parse(h.body.toString()).n).sort()).toEqual(["a", "d", "earlier"]);
  });

  it("reads a batch message's headers as HTTP headers: any case, trimmed, the last duplicate wins; a malformed one is a 400", async () => {
    const path = uniquePath("batch-headers");
    const batch = (messages: unknown) =>
      fetch(`${t.home.url}/qstash/v2/batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${process.env.QSTASH_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(messages),
      });
    const res = await batch([
      {
        destination: dest.url(path),
        headers: { "UPSTASH-METHOD": "post", "upstash-method": " PUT ", "Upstash-Forward-X-Case": "  kept  ", "CONTENT-TYPE": "text/plain" },
        body: "hello",
      },
    ]);
    expect(res.status).toBe(200);
    const [result] = (await res.json()) as { messageId: string }[];
    const [hit] = await eventually(() => dest.hits(path).length > 0 && dest.hits(path));
    expect(hit!.method).toBe("PUT");
    expect(header(hit!, "x-case")).toBe("kept");
    expect(header(hit!, "content-type")).toBe("text/plain");
    expect(header(hit!, "upstash-message-id")).toBe(result!.messageId);
    expect(hit!.body.toString()).toBe("hello");

    for (const headers of [{ "bad name": "x" }, { "Upstash-Forward-X": "line\nbreak" }]) {
      const refused = await batch([{ destination: dest.url(path), headers, body: "x" }]);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toEqual({ error: expect.stringMatching(/^message 0: invalid header/) });
    }
  });

  it("forwards Upstash-Forward-* headers with the prefix stripped, and uses Upstash-Method", async () => {
    const path = uniquePath("forward");
    await client().publishJSON({
      url: dest.url(path),
      body: { forwarded: true },
      method: "PUT",
      headers: { "X-Trace-Id": "trace-1", Authorization: "Bearer downstream" },
    });
    const [hit] = await eventually(() => dest.hits(path).length > 0 && dest.hits(path));
    expect(hit!.method).toBe("PUT");
    expect(header(hit!, "x-trace-id")).toBe("trace-1");
    expect(header(hit!, "authorization")).toBe("Bearer downstream");
    const names = Object.keys(hit!.headers);
    expect(names.filter((n) => n.startsWith("upstash-")).sort()).toEqual(["upstash-message-id", "upstash-retried", "upstash-signature"]);
  });

  it("cancels a message not yet delivered (DELETE /v2/messages/:id); it is never delivered", async () => {
    const path = uniquePath("cancel");
    const { messageId } = await client().publishJSON({ url: dest.url(path), body: {}, delay: 1 });
    await expect(client().messages.cancel(messageId)).resolves.toEqual({ cancelled: 1 });
    await expect(client().messages.get(messageId)).resolves.toMatchObject({ state: "CANCELED" });
    // Nothing left to cancel: QStash answers 404.
    await expect(client().messages.cancel(messageId)).rejects.toMatchObject({ status: 404 });
    await expect(client().messages.get("msg_doesnotexist")).rejects.toMatchObject({ status: 404 });
    await sleep(1500);
    expect(dest.hits(path)).toHaveLength(0);
  });

  it("refuses a wrong or missing token with 401 like QStash", async () => {
    const wrong = new Client({ baseUrl: `${t.home.url}/qstash`, token: "not-the-token", retry: false });
    const error = await wrong.publishJSON({ url: dest.url("/never"), body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QstashError);
    expect((error as QstashError).status).toBe(401);

    const missing = await fetch(`${t.home.url}/qstash/v2/publish/${dest.url("/never")}`, { method: "POST", body: "x" });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ error: expect.any(String) });
    const read = await fetch(`${t.home.url}/qstash/v2/messages/msg_x`, { headers: { authorization: "Bearer nope" } });
    expect(read.status).toBe(401);
    await sleep(200);
    expect(dest.hits("/never")).toHaveLength(0);
  });

  it("answers malformed publishes with 400 and { error }", async () => {
    const auth = { authorization: `Bearer ${process.env.QSTASH_TOKEN}` };
    const post = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${t.home.url}/qstash${path}`, { method: "POST", headers: { ...auth, ...headers }, body: "{}" });
    for (const res of [
      await post("/v2/publish/not-a-url"),
      await post(`/v2/publish/${dest.url("/x")}`, { "upstash-retries": "many" }),
      await post(`/v2/publish/${dest.url("/x")}`, { "upstash-delay": "soon" }),
      await post(`/v2/publish/${dest.url("/x")}`, { "upstash-method": "TRACE" }),
      await post("/v2/batch"),
    ]) {
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
  });
});

// --- retries, with QStash's backoff scaled down -----------------------------------------------------------------------

describe("QStash emulator retries", () => {
  let q: RunningEmulator;
  const SCALE = 0.001;
  beforeAll(async () => {
    q = await startEmulator(await cloneTemplateDatabase(), newCredentials(), { retryDelayScale: SCALE, attemptTimeoutMs: 500 });
    q.emulator.start();
  });
  afterAll(async () => {
    await q?.close();
  });

  it("retries a failing destination with Upstash-Retried 0..n on QStash's backoff, then marks the message failed", async () => {
    const path = uniquePath("always-500");
    dest.on(path, () => ({ status: 500 }));
    const { messageId } = await q.client.publishJSON({ url: dest.url(path), body: { fail: true }, retries: 3 });

    const hits = await eventually(() => dest.hits(path).length === 4 && dest.hits(path), 8000);
    expect(hits.map((h) => header(h, "upstash-retried"))).toEqual(["0", "1", "2", "3"]);
    expect(new Set(hits.map((h) => header(h, "upstash-message-id")))).toEqual(new Set([messageId]));
    for (const [n, hit] of hits.entries()) {
      await expect(q.receiver.verify({ signature: header(hit, "upstash-signature")!, body: hit.body.toString(), url: dest.url(path) })).resolves.toBe(true);
      // The gap before retry n is at least e^(2.5·n) seconds (scaled) and not much more.
      if (n > 0) {
        const gap = hit.at - hits[n - 1]!.at;
        expect(gap).toBeGreaterThanOrEqual(Math.floor(backoffMs(n, SCALE)));
        expect(gap).toBeLessThan(backoffMs(n, SCALE) + 500);
      }
    }
    const message = await stateOf(q.client, messageId, "FAILED");
    expect(message).toMatchObject({ state: "FAILED", retried: 3, maxRetries: 3, responseStatus: 500, responseBody: "answer body" });
    await sleep(300);
    expect(dest.hits(path)).toHaveLength(4);
  });

  it("waits as long as the destination's Retry-After says", async () => {
    const path = uniquePath("retry-after");
    dest.on(path, (_hit, earlier) => (earlier.length === 0 ? { status: 503, headers: { "Retry-After": "1" } } : { status: 200 }));
    const { messageId } = await q.client.publishJSON({ url: dest.url(path), body: {} });
    const hits = await eventually(() => dest.hits(path).length === 2 && dest.hits(path), 4000);
    const gap = hits[1]!.at - hits[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(1000);
    expect(gap).toBeLessThan(1600);
    expect(header(hits[1]!, "upstash-retried")).toBe("1");
    await expect(stateOf(q.client, messageId, "DELIVERED")).resolves.toMatchObject({ retried: 1, responseStatus: 200 });
  });

  it("gives up on an attempt after the attempt timeout and retries it", async () => {
    const path = uniquePath("slow");
    dest.on(path, (_hit, earlier) => (earlier.length === 0 ? { status: 200, delayMs: 3000 } : { status: 200 }));
    const { messageId } = await q.client.publishJSON({ url: dest.url(path), body: {} });
    const hits = await eventually(() => dest.hits(path).length === 2 && dest.hits(path), 4000);
    expect(hits[1]!.at - hits[0]!.at).toBeGreaterThanOrEqual(500);
    expect(hits[1]!.at - hits[0]!.at).toBeLessThan(1500);
    await expect(stateOf(q.client, messageId, "DELIVERED")).resolves.toMatchObject({ retried: 1 });
  });
});

// --- durability and several instances on one database ---------------------------------------------------------------------

describe("QStash emulator durability", () => {
  let databaseUrl: string;
  const credentials = newCredentials();
  beforeAll(async () => {
    databaseUrl = await cloneTemplateDatabase();
  });

  it("keeps messages in Postgres: a new instance delivers what a stopped one accepted, and takes over expired claims", async () => {
    const first = await startEmulator(databaseUrl, credentials);
    const duePath = uniquePath("restart-due");
    const laterPath = uniquePath("restart-later");
    const claimedPath = uniquePath("restart-claimed");
    await first.client.publishJSON({ url: dest.url(duePath), body: { due: "now" } });
    await first.client.publishJSON({ url: dest.url(laterPath), body: { due: "later" }, delay: 1 });
    const { messageId: claimedId } = await first.client.publishJSON({ url: dest.url(claimedPath), body: { claimed: true } });
    await first.close(); // never started: nothing was delivered
    await sleep(300);
    expect(dest.hits(duePath)).toHaveLength(0);

    // As if a process had claimed this message and died mid-delivery: its lease runs out in a second.
    const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    await admin`
      update local_qstash.messages
      set state = 'ACTIVE', claim_token = 'a-process-that-died', lease_until = now() + interval '1 second'
      where id = ${claimedId}`;
    await admin.end();

    const second = await startEmulator(databaseUrl, credentials);
    const startedAt = Date.now();
    second.emulator.start();
    try {
      const [due] = await eventually(() => dest.hits(duePath).length > 0 && dest.hits(duePath));
      expect(due!.at - startedAt).toBeLessThan(1000);
      expect(due!.body.toString()).toBe(JSON.stringify({ due: "now" }));
      await eventually(() => dest.hits(laterPath).length > 0);
      const [claimed] = await eventually(() => dest.hits(claimedPath).length > 0 && dest.hits(claimedPath), 4000);
      expect(claimed!.at - startedAt).toBeGreaterThanOrEqual(700);
      expect(header(claimed!, "upstash-message-id")).toBe(claimedId);
      await expect(second.receiver.verify({ signature: header(claimed!, "upstash-signature")!, body: claimed!.body.toString(), url: dest.url(claimedPath) })).resolves.toBe(true);
      await stateOf(second.client, claimedId, "DELIVERED");
    } finally {
      await second.close();
    }
  });

  it("with two instances on one database, delivers every message exactly once", async () => {
    const a = await startEmulator(databaseUrl, credentials);
    const b = await startEmulator(databaseUrl, credentials);
    a.emulator.start();
    b.emulator.start();
    try {
      const prefix = uniquePath("shared");
      const notBefore = Math.floor(Date.now() / 1000) + 1; // all due at the same instant: both instances race for them
      const batch = (client: Client, from: number) =>
        client.batchJSON(Array.from({ length: 20 }, (_, i) => ({ url: dest.url(`${prefix}/${from + i}`), body: { i: from + i }, notBefore })));
      const ids = [...(await batch(a.client, 0)), ...(await batch(b.client, 20))].map((r) => r.messageId);
      expect(new Set(ids).size).toBe(40);

      const delivered = () => ids.filter((id) => allHits().some((h) => header(h, "upstash-message-id") === id));
      const allHits = () => Array.from({ length: 40 }, (_, i) => dest.hits(`${prefix}/${i}`)).flat();
      await eventually(() => delivered().length === 40, 5000);
      await sleep(500);
      expect(allHits()).toHaveLength(40);
      const perMessage = new Map<string, number>();
      for (const hit of allHits()) perMessage.set(header(hit, "upstash-message-id")!, (perMessage.get(header(hit, "upstash-message-id")!) ?? 0) + 1);
      expect([...perMessage.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
