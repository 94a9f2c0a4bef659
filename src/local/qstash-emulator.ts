import { createHash, timingSafeEqual } from "node:crypto";
import { cancelMany, cancelOne, getMessage } from "./qstash/messages.js";
import { createDeliveryLoop } from "./qstash/delivery.js";
import {
  defaults,
  type QStashEmulator,
  type QStashEmulatorOptions,
  qstashError,
  schemaSql,
  type Settings,
} from "./qstash/settings.js";
import { dispatcher, json } from "./emulator.js";
import { parseBatch, parseDraft, readBody, store } from "./qstash/publish.js";
import { type FetchHandler } from "./server.js";

export type { QStashEmulator, QStashEmulatorOptions } from "./qstash/settings.js";
export { backoffMs, parseRetryAfterMs } from "./qstash/delivery.js";
export { parseDurationMs } from "./qstash/publish.js";

/**
 * A local emulator of Upstash QStash's HTTP protocol, so `@upstash/qstash`'s Client and Receiver run unchanged against
 * it: `POST /v2/publish/<url>`, `POST /v2/batch`, `GET|DELETE /v2/messages/:id`, `DELETE /v2/messages?messageIds=…`
 * and `GET /v2/keys`, with QStash's headers (not-before, delay, deduplication, retries, method, timeout, forwarded
 * headers) and signed deliveries (`Upstash-Signature`, `Upstash-Message-Id`, `Upstash-Retried`).
 *
 * Messages live in Postgres (schema `local_qstash`, created here, outside the migrations and the public schema), so a
 * restart loses nothing. Each instance's delivery loop claims due messages with `FOR UPDATE SKIP LOCKED` under a lease,
 * so several instances may share one database and a message claimed by a process that died is delivered again once
 * its lease expires. Delivery is at least once, as with QStash.
 *
 * Not emulated (answered 400 so the gap is loud): URL groups, queues, callbacks, failure callbacks and
 * `Upstash-Retry-Delay` expressions. Flow control, labels and redaction are accepted and ignored.
 *
 * The API is the route table below; src/local/qstash/ holds the rest: settings.ts (options, limits, schema, error
 * shape), publish.ts (publish and batch), messages.ts (read and cancel), delivery.ts (the delivery loop).
 */

export async function createQStashEmulator(options: QStashEmulatorOptions): Promise<QStashEmulator> {
  const { sql } = options;
  const settings: Settings = { ...defaults, ...definedOnly(options) };
  await sql.begin(async (tx) => {
    // Several instances may start on one database at once; `if not exists` alone races in the catalog.
    await tx`select pg_advisory_xact_lock(hashtext('local_qstash schema'))`;
    await tx.unsafe(schemaSql);
  });

  const loop = createDeliveryLoop(options, settings);
  const handler = createApiHandler(options, settings, () => loop.wake());
  return { handler, start: loop.start, stop: loop.stop };
}

function definedOnly(options: QStashEmulatorOptions): Partial<Settings> {
  return Object.fromEntries(Object.entries(options).filter(([key, value]) => key in defaults && value !== undefined));
}

// --- the API ---------------------------------------------------------------------------------------------------

function createApiHandler(options: QStashEmulatorOptions, settings: Settings, onEnqueued: () => void): FetchHandler {
  const { sql } = options;
  const expectedToken = digest(`Bearer ${options.token}`);

  const routes = dispatcher<URL>(
    "qstash emulator",
    {
      // The destination is the rest of the path, as sent (a full URL, its own query string included).
      "POST /v2/publish/*": async (req, params, url) => {
        const draft = parseDraft(params["*"]! + url.search, req.headers, await readBody(req), settings);
        const [result] = await store(sql, [draft], settings);
        onEnqueued();
        return json(result!.deduplicated ? 202 : 201, result);
      },
      "POST /v2/batch": async (req) => {
        const results = await store(sql, parseBatch(await readBody(req), settings), settings);
        onEnqueued();
        return json(200, results);
      },
      "GET /v2/messages/:messageId([A-Za-z0-9_-]+)": (_req, params) => getMessage(sql, params.messageId!),
      "DELETE /v2/messages/:messageId([A-Za-z0-9_-]+)": (_req, params) => cancelOne(sql, params.messageId!),
      "DELETE /v2/messages": (_req, _params, url) => cancelMany(sql, url.searchParams),
      "GET /v2/keys": () => json(200, { current: options.currentSigningKey, next: options.nextSigningKey }),
    },
    {
      notFound: (method, path) => json(404, { error: `not found: ${method} ${path}` }),
      methodNotAllowed: (method, path) => json(405, { error: `method not allowed: ${method} ${path}` }),
      internal: () => json(500, { error: "internal server error" }),
    },
  );

  return async (req) => {
    const url = new URL(req.url);
    const prefix = settings.mountPath;
    const path = url.pathname.startsWith(`${prefix}/`) ? url.pathname.slice(prefix.length) : url.pathname;
    const given = req.headers.get("authorization");
    if (!given || !timingSafeEqual(digest(given), expectedToken)) return qstashError(401, "Unauthorized").response;
    return routes(req, path, url);
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
