import { createHash, randomBytes } from "node:crypto";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resetEnvForTests } from "../../src/core/env.js";
import { AppError } from "../../src/core/errors.js";
import { cancel, enqueue, verifyQueueRequest } from "../../src/core/queue.js";
import { listen } from "../../src/local/server.js";
import { eventually } from "../helpers/eventually.js";
import { useTestHome } from "../helpers/home.js";

/**
 * The queue port end to end in the local home: `enqueue` publishes through @upstash/qstash to the home's QStash
 * emulator, which delivers to a function-style handler that accepts only what `verifyQueueRequest` accepts.
 */
const t = useTestHome();

interface Delivery {
  url: string;
  headers: Headers;
  body: string;
  at: number;
}

const deliveries: Delivery[] = [];
let callbackServer: http.Server;
let callbackBase: string;

beforeAll(async () => {
  // A stand-in for our publish function: it verifies every delivery and records what verification returned.
  callbackServer = await listen(async (req) => {
    const url = req.url;
    const headers = new Headers(req.headers);
    try {
      const body = await verifyQueueRequest(req);
      deliveries.push({ url, headers, body, at: Date.now() });
      return new Response(null, { status: 204 });
    } catch (error) {
      return new Response(null, { status: error instanceof AppError ? error.status : 500 });
    }
  }, 0);
  callbackBase = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}`;
  // The home set QUEUE_CALLBACK_BASE_URL to itself; these jobs are called back on the stand-in instead.
  process.env.QUEUE_CALLBACK_BASE_URL = callbackBase;
  resetEnvForTests();
});

afterAll(async () => {
  callbackServer?.closeAllConnections();
  await new Promise<void>((resolve) => (callbackServer ? callbackServer.close(() => resolve()) : resolve()));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniquePath = (name: string) => `/jobs/${name}/${randomBytes(4).toString("hex")}`;
const deliveredTo = (path: string) => deliveries.filter((d) => d.url === `${callbackBase}${path}`);

describe("enqueue → signed delivery → verifyQueueRequest", () => {
  it("delivers each job to callback base + path, and verification returns the raw JSON body", async () => {
    const a = uniquePath("a");
    const b = uniquePath("b");
    const ids = await enqueue([
      { path: a, body: { targetId: "t-1", note: "ünïcode" } },
      { path: `${b}?attempt=2`, body: [1, 2, 3], retries: 0 },
    ]);
    expect(ids).toEqual([expect.stringMatching(/^msg_/), expect.stringMatching(/^msg_/)]);
    expect(ids[0]).not.toBe(ids[1]);

    const [first] = await eventually(() => deliveredTo(a).length > 0 && deliveredTo(a));
    expect(first!.body).toBe(JSON.stringify({ targetId: "t-1", note: "ünïcode" }));
    expect(first!.headers.get("upstash-message-id")).toBe(ids[0]);
    expect(first!.headers.get("content-type")).toBe("application/json");
    const [second] = await eventually(() => deliveredTo(`${b}?attempt=2`).length > 0 && deliveredTo(`${b}?attempt=2`));
    expect(second!.body).toBe("[1,2,3]");
    expect(second!.headers.get("upstash-message-id")).toBe(ids[1]);
  });

  it("never delivers before notBefore (rounded up to QStash's whole second)", async () => {
    const path = uniquePath("later");
    const notBefore = new Date(Date.now() + 1300);
    await enqueue([{ path, body: {}, notBefore }]);
    const [delivery] = await eventually(() => deliveredTo(path).length > 0 && deliveredTo(path), 4000);
    expect(delivery!.at).toBeGreaterThanOrEqual(notBefore.getTime());
    expect(delivery!.at).toBeLessThan(Math.ceil(notBefore.getTime() / 1000) * 1000 + 1000);
  });

  it("returns the first message's id for a repeated deduplication id, and delivers once", async () => {
    const path = uniquePath("dedup");
    const deduplicationId = `job-${randomBytes(4).toString("hex")}`;
    const [first] = await enqueue([{ path, body: { n: 1 }, deduplicationId }]);
    const [again] = await enqueue([{ path, body: { n: 2 }, deduplicationId }]);
    expect(again).toBe(first);
    await eventually(() => deliveredTo(path).length > 0);
    await sleep(300);
    expect(deliveredTo(path).map((d) => d.body)).toEqual(['{"n":1}']);
  });

  it("publishes more than one batch's worth (chunks of 100) and returns every id in order", async () => {
    const prefix = uniquePath("many");
    const jobs = Array.from({ length: 130 }, (_, i) => ({ path: `${prefix}/${i}`, body: { i } }));
    const ids = await enqueue(jobs);
    expect(ids).toHaveLength(130);
    expect(new Set(ids).size).toBe(130);
    await eventually(() => deliveries.filter((d) => d.url.startsWith(`${callbackBase}${prefix}/`)).length === 130, 10_000);
    for (const i of [0, 99, 100, 129]) {
      const [delivery] = deliveredTo(`${prefix}/${i}`);
      expect(delivery!.headers.get("upstash-message-id")).toBe(ids[i]);
      expect(JSON.parse(delivery!.body)).toEqual({ i });
    }
  });

  it("cancels a job not delivered yet; false once there is nothing to cancel", async () => {
    const path = uniquePath("cancelled");
    const [id] = await enqueue([{ path, body: {}, notBefore: new Date(Date.now() + 60_000) }]);
    await expect(cancel(id!)).resolves.toBe(true);
    await expect(cancel(id!)).resolves.toBe(false);
    await expect(cancel("msg_unknown")).resolves.toBe(false);
  });
});

describe("verifyQueueRequest refuses what QStash did not sign for this URL", () => {
  let genuine: Delivery;
  beforeAll(async () => {
    const path = uniquePath("genuine");
    await enqueue([{ path, body: { genuine: true } }]);
    genuine = (await eventually(() => deliveredTo(path).length > 0 && deliveredTo(path)))[0]!;
  });

  const replay = (options: { url?: string; body?: string; signature?: string | null } = {}) => {
    const headers = new Headers(genuine.headers);
    if (options.signature === null) headers.delete("upstash-signature");
    else if (options.signature !== undefined) headers.set("upstash-signature", options.signature);
    headers.delete("content-length");
    return new Request(options.url ?? genuine.url, { method: "POST", headers, body: options.body ?? genuine.body });
  };

  /** A signature with QStash's claims, signed with `key`. */
  const signWith = (key: string, url: string, body: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ body: createHash("sha256").update(body).digest("base64url") })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("Upstash")
      .setSubject(url)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 300)
      .setJti(randomBytes(8).toString("hex"))
      .sign(new TextEncoder().encode(key));
  };

  const unauthorized = { code: "unauthorized", status: 401 };

  it("accepts the genuine delivery and returns its raw body", async () => {
    await expect(verifyQueueRequest(replay())).resolves.toBe(genuine.body);
  });

  it("accepts a signature made with the next signing key (key rotation)", async () => {
    const signature = await signWith(t.home.secrets.qstashNextSigningKey, genuine.url, genuine.body);
    await expect(verifyQueueRequest(replay({ signature }))).resolves.toBe(genuine.body);
  });

  it("refuses a tampered body", async () => {
    await expect(verifyQueueRequest(replay({ body: genuine.body.replace("true", "false") }))).rejects.toMatchObject(unauthorized);
  });

  it("refuses a missing signature", async () => {
    await expect(verifyQueueRequest(replay({ signature: null }))).rejects.toMatchObject(unauthorized);
  });

  it("refuses a signature forged with another key, or that is not a JWT", async () => {
    const forged = await signWith(`sig_${randomBytes(12).toString("base64url")}`, genuine.url, genuine.body);
    await expect(verifyQueueRequest(replay({ signature: forged }))).rejects.toMatchObject(unauthorized);
    await expect(verifyQueueRequest(replay({ signature: "not.a.jwt" }))).rejects.toMatchObject(unauthorized);
  });

  it("refuses a genuine signature presented at another URL", async () => {
    await expect(verifyQueueRequest(replay({ url: `${callbackBase}/jobs/elsewhere` }))).rejects.toMatchObject(unauthorized);
  });

  it("answers 401 over HTTP when the body was tampered with", async () => {
    const tampered = replay({ body: genuine.body.replace("true", "false") });
    const res = await fetch(tampered.url, { method: "POST", headers: tampered.headers, body: await tampered.text() });
    expect(res.status).toBe(401);
  });
});
