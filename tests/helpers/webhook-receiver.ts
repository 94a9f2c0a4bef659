import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect } from "vitest";
import { connectAccount, eventually } from "./connect.js";
import type { TestHome } from "./home.js";
import { paidUserWithKey } from "./users.js";

/** One request the receiver got, as it arrived (raw body, lower-case header names). */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
  /** What the receiver answered (a status), or "timeout" when it never answered. */
  answered: number | "timeout";
}

/** How the receiver answers one request. */
export type Behaviour =
  | { kind: "ok" }
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** Never answers (the sender's timeout fires). */
  | { kind: "timeout" }
  | { kind: "redirect"; location: string };

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedRequest[];
  /** Answers the next requests with these behaviours, in order; after them, `otherwise` (default 200 OK). */
  script(...behaviours: Behaviour[]): void;
  /** What to answer once the script is used up. */
  otherwise(behaviour: Behaviour): void;
  /** Stops listening (connections are refused) until `up()`. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Waits until `count` requests matching `filter` have arrived. */
  waitFor(count: number, filter?: (r: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on 127.0.0.1 for webhook tests, which misbehaves on command: answers with any status (500,
 * 429 + Retry-After, 410), redirects, never answers (timeout), or goes down and comes back on the same port.
 */
export async function startWebhookReceiver(path = "/webhook"): Promise<WebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const queue: Behaviour[] = [];
  let fallback: Behaviour = { kind: "ok" };
  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const behaviour = queue.shift() ?? fallback;
      const entry: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v ?? ""])),
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
        answered: behaviour.kind === "timeout" ? "timeout" : behaviour.kind === "redirect" ? 302 : behaviour.kind === "ok" ? 200 : behaviour.status,
      };
      received.push(entry);
      switch (behaviour.kind) {
        case "ok":
          res.writeHead(200, { "content-type": "text/plain" }).end("OK");
          return;
        case "status":
          res.writeHead(behaviour.status, { "content-type": "text/plain", ...behaviour.headers }).end(behaviour.body ?? "");
          return;
        case "redirect":
          res.writeHead(302, { location: behaviour.location }).end();
          return;
        case "timeout":
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
      }
    });
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    script: (...behaviours) => queue.push(...behaviours),
    otherwise: (behaviour) => {
      fallback = behaviour;
    },
    down: stop,
    up: async () => {
      await listen(port);
    },
    async waitFor(count, filter = () => true, timeoutMs = 15_000) {
      const matching = () => received.filter(filter);
      return eventually(() => matching().length >= count && matching(), timeoutMs).catch(() => {
        const got = matching();
        throw new Error(`timed out waiting for ${count} webhook requests (got ${got.length}: ${JSON.stringify(got.map((r) => r.body.slice(0, 80)))})`);
      });
    },
    close: async () => {
      if (server.listening) await stop();
    },
  };
}

// --- verifying what arrived, as receivers do -------------------------------------------------------------------------

/**
 * The contract's receiver code ("Signature Verification"), verbatim but for the `require`: it signs
 * `JSON.stringify(payload)` where `payload` is the body Express parsed (`req.body`).
 */
function verifyWebhook(payload: unknown, signature: string, secret: string): boolean {
  const hmac = crypto.createHmac("sha256", secret);
  hmac.update(JSON.stringify(payload));
  const expected = hmac.digest("hex");
  return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
}

/** Runs the contract's verifier on a request as Express would hand it over (`express.json()` parses the body). */
export function contractVerifies(request: ReceivedRequest, secret: string): boolean {
  const signature = request.headers["x-webhook-signature"] ?? "";
  if (signature.length !== 64) return false; // timingSafeEqual throws on a length mismatch
  return verifyWebhook(JSON.parse(request.body), signature, secret);
}

/**
 * Standard Webhooks verification as its reference library does it (standard-webhooks `libraries/javascript`): the key
 * is the base64 after `whsec_`, the signed content `${id}.${timestamp}.${body}`, any `v1,` signature may match, and
 * the timestamp must be within 5 minutes of now.
 */
export function standardWebhooksVerifies(request: ReceivedRequest, secret: string, now = Date.now()): boolean {
  const id = request.headers["webhook-id"];
  const timestamp = request.headers["webhook-timestamp"];
  const signatures = request.headers["webhook-signature"];
  if (!id || !timestamp || !signatures) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  const expected = crypto.createHmac("sha256", key).update(`${id}.${timestamp}.${request.body}`).digest("base64");
  return signatures.split(" ").some((s) => {
    const [version, signature] = s.split(",");
    return version === "v1" && signature !== undefined && signature.length === expected.length &&
      crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
  });
}

// --- the delivery tests' shared fixture -------------------------------------------------------------------------------

/**
 * What the webhook delivery tests share: one paid profile with a connected X account for the whole file (each publish
 * waits for its post to settle, so no event of one test lands in the next), and per test a fresh receiver and
 * endpoint, removed after it.
 */
export function webhookKit(t: TestHome) {
  const receivers: WebhookReceiver[] = [];
  let account: Awaited<ReturnType<typeof paidUserWithKey>> | undefined;
  let n = 0;

  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    if (account) await t.sql`delete from public.webhook_endpoints where profile_id = ${account.profileId}`;
  });

  const unique = (text: string) => `${text} #${++n}-${Date.now()}`;

  async function receiver(): Promise<WebhookReceiver> {
    const r = await startWebhookReceiver();
    receivers.push(r);
    return r;
  }

  /** The shared account, a new receiver and an endpoint pointing at it. */
  async function setup(options: { maxRetries?: number; events?: string[] } = {}) {
    if (!account) {
      account = await paidUserWithKey(t);
      await connectAccount(t, { apiKey: account.apiKey }, "twitter");
    }
    const r = await receiver();
    const res = await t.call("POST", "/api/v1/webhook-endpoints", {
      apiKey: account.apiKey,
      body: { url: r.url, events: options.events ?? ["post.published"], maxRetries: options.maxRetries ?? 5 },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { ...account, receiver: r, endpointId: res.body.endpoint.id as string, secret: res.body.endpoint.secret as string };
  }

  /** Publishes a post to X now through the front door; answers once it is published. */
  async function publish(apiKey: string, content = unique("Hello")): Promise<string> {
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.postId as string;
  }

  async function deliveriesOf(s: { apiKey: string; endpointId: string }): Promise<any[]> {
    const res = await t.call("GET", `/api/v1/webhook-endpoints/${s.endpointId}/deliveries`, { apiKey: s.apiKey });
    expect(res.status).toBe(200);
    return res.body.deliveries;
  }

  /** Waits for a delivery of the endpoint to reach `status`, as the history endpoint shows it. */
  async function settledDelivery(s: { apiKey: string; endpointId: string }, status: "delivered" | "failed"): Promise<any> {
    return eventually(async () => (await deliveriesOf(s)).find((d) => d.status === status), 15_000, `a ${status} delivery`);
  }

  return { unique, receiver, setup, publish, deliveriesOf, settledDelivery };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
