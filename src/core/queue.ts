import { Client, QstashError, Receiver } from "@upstash/qstash";
import { env } from "./env.js";
import { AppError } from "./errors.js";
import { readBodyText } from "./http.js";

/**
 * The queue port: messages are published to QStash, which later POSTs each one, signed, to our queue worker. The same
 * `@upstash/qstash` Client and Receiver run in both homes; only the configuration differs (the local home points
 * `QSTASH_URL` at its emulator of QStash's protocol). Jobs (src/core/jobs/) use it through their typed `enqueue` and
 * their outbox, and parse what they receive with their own schema.
 */
export interface QueueJob {
  /** The path QStash calls back, e.g. `/api/queue/publish`; it is appended to the callback base URL. */
  path: string;
  /** Sent as JSON. */
  body: unknown;
  /** Not delivered before this time. QStash counts in whole seconds, so it is rounded up: a job never runs early. */
  notBefore?: Date;
  /** Publishing the same id again within QStash's deduplication window is accepted but not enqueued. */
  deduplicationId?: string;
  /** Delivery retries after the first attempt (QStash's default: the plan's maximum). */
  retries?: number;
}

/** QStash documents no batch limit; stay well inside whatever it is. */
const BATCH_SIZE = 100;
/** Seconds of clock skew tolerated between QStash and this function when checking the signature's `nbf`/`exp`. */
const CLOCK_TOLERANCE_SECONDS = 5;

let client: { config: string; client: Client } | undefined;
let receiver: { config: string; receiver: Receiver } | undefined;

/** The process's Client, created on first use (and again only if the configuration it was made from changed). */
function qstashClient(): Client {
  const { QSTASH_URL, QSTASH_TOKEN } = env();
  if (!QSTASH_TOKEN) throw new Error("QSTASH_TOKEN is not set: the queue cannot publish");
  const config = `${QSTASH_URL} ${QSTASH_TOKEN}`;
  // devMode: false so that QSTASH_DEV in the environment cannot redirect the client behind env()'s back.
  if (client?.config !== config) client = { config, client: new Client({ baseUrl: QSTASH_URL, token: QSTASH_TOKEN, devMode: false }) };
  return client.client;
}

function qstashReceiver(): Receiver {
  const { QSTASH_CURRENT_SIGNING_KEY: currentSigningKey, QSTASH_NEXT_SIGNING_KEY: nextSigningKey } = env();
  if (!currentSigningKey || !nextSigningKey) {
    throw new Error("QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be set to accept queue deliveries");
  }
  const config = `${currentSigningKey} ${nextSigningKey}`;
  if (receiver?.config !== config) {
    receiver = { config, receiver: new Receiver({ currentSigningKey, nextSigningKey, devMode: false }) };
  }
  return receiver.receiver;
}

/** The public URL QStash calls for `path`; it is also the `sub` the delivery's signature must carry. */
function destination(path: string): string {
  if (!path.startsWith("/")) throw new Error(`A queue path starts with "/": ${path}`);
  const base = (env().QUEUE_CALLBACK_BASE_URL ?? env().APP_URL).replace(/\/+$/, "");
  return new URL(`${base}${path}`).href;
}

/** Publishes the jobs (in batches of at most 100) and returns their message ids, in the jobs' order. */
export async function enqueue(jobs: readonly QueueJob[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < jobs.length; start += BATCH_SIZE) {
    const chunk = jobs.slice(start, start + BATCH_SIZE);
    const results = await qstashClient().batchJSON(
      chunk.map((job) => ({
        url: destination(job.path),
        body: job.body,
        notBefore: job.notBefore ? Math.ceil(job.notBefore.getTime() / 1000) : undefined,
        deduplicationId: job.deduplicationId,
        retries: job.retries,
      })),
    );
    if (results.length !== chunk.length || results.some((r) => typeof r?.messageId !== "string")) {
      throw new Error(`QStash answered a batch of ${chunk.length} with ${JSON.stringify(results)}`);
    }
    ids.push(...results.map((r) => r.messageId));
  }
  return ids;
}

/** Cancels a message not delivered yet. False when QStash no longer holds it (delivered, failed, or unknown). */
export async function cancel(messageId: string): Promise<boolean> {
  try {
    const { cancelled } = await qstashClient().messages.cancel(messageId);
    return cancelled > 0;
  } catch (error) {
    if (error instanceof QstashError && error.status === 404) return false;
    throw error;
  }
}

/**
 * Checks that a request is a QStash delivery meant for this URL: reads the raw body once, verifies `Upstash-Signature`
 * (signing key, issuer, lifetime, `sub` = `req.url`, SHA-256 of the body) and returns the body. Anything else is a 401.
 */
export async function verifyQueueRequest(req: Request): Promise<string> {
  const signature = req.headers.get("upstash-signature");
  if (!signature) throw new AppError("unauthorized", "Missing queue signature");
  const verifier = qstashReceiver();
  const body = await readBodyText(req, env().MAX_BODY_BYTES);
  try {
    await verifier.verify({ signature, body, url: req.url, clockTolerance: CLOCK_TOLERANCE_SECONDS });
  } catch {
    // SignatureError, or a malformed token the SDK trips over: either way the caller is not QStash.
    throw new AppError("unauthorized", "Invalid queue signature");
  }
  return body;
}
