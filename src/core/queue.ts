import type { Client, Receiver } from "@upstash/qstash";
import { env, type Env } from "./env.js";
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

/**
 * Messages per `POST /v2/batch`. QStash documents no limit on the count or the size of a batch request, only on each
 * message (its plan's maximum message size) and on the daily message count, so a batch stays at a size well inside
 * whatever the undocumented limit is: 100 of our messages are ~50 KB.
 */
const BATCH_SIZE = 100;
/** Batch requests in flight at once from one `enqueue`. */
const PARALLEL_BATCHES = 5;
/** Seconds of clock skew tolerated between QStash and this function when checking the signature's `nbf`/`exp`. */
const CLOCK_TOLERANCE_SECONDS = 5;

let loading: Promise<typeof import("@upstash/qstash")> | undefined;
const sdk = () => (loading ??= import("@upstash/qstash"));

/** The public URL QStash calls for `path`; it is also the `sub` the delivery's signature must carry. */
function destination(e: Env, path: string): string {
  if (!path.startsWith("/")) throw new Error(`A queue path starts with "/": ${path}`);
  const base = (e.QUEUE_CALLBACK_BASE_URL ?? e.APP_URL).replace(/\/+$/, "");
  return new URL(`${base}${path}`).href;
}

/** The queue of one environment: what `services().queue` is. */
export interface Queue {
  /** Publishes the jobs (in batches of at most 100) and returns their message ids, in the jobs' order. */
  enqueue(jobs: readonly QueueJob[]): Promise<string[]>;
  /** Cancels a message not delivered yet. False when QStash no longer holds it (delivered, failed, or unknown). */
  cancel(messageId: string): Promise<boolean>;
  /**
   * Checks that a request is a QStash delivery meant for this URL: reads the raw body once, verifies
   * `Upstash-Signature` (signing key, issuer, lifetime, `sub` = `req.url`, SHA-256 of the body) and returns the body.
   * Anything else is a 401.
   */
  verify(req: Request): Promise<string>;
}

/**
 * The queue for one parsed environment. Its QStash Client and Receiver are made on first use and kept by this queue;
 * `services()` builds one queue per environment, so a warm function reuses them. Nothing is kept at module level.
 */
export function createQueue(e: Env): Queue {
  let client: Client | undefined;
  let receiver: Receiver | undefined;
  // The destination of each path, worked out once: a sweep's batch sends hundreds of messages to the same path.
  const destinations = new Map<string, string>();
  const destinationOf = (path: string): string => {
    let url = destinations.get(path);
    if (url === undefined) destinations.set(path, (url = destination(e, path)));
    return url;
  };
  // The SDK is loaded on first use, so a function that never touches the queue does not load it at start.
  const qstashClient = async (): Promise<Client> => {
    if (!e.QSTASH_TOKEN) throw new Error("QSTASH_TOKEN is not set: the queue cannot publish");
    const { Client } = await sdk();
    // devMode: false so that QSTASH_DEV in the environment cannot redirect the client behind env()'s back.
    return (client ??= new Client({ baseUrl: e.QSTASH_URL, token: e.QSTASH_TOKEN, devMode: false }));
  };
  const qstashReceiver = async (): Promise<Receiver> => {
    const { QSTASH_CURRENT_SIGNING_KEY: currentSigningKey, QSTASH_NEXT_SIGNING_KEY: nextSigningKey } = e;
    if (!currentSigningKey || !nextSigningKey) {
      throw new Error("QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be set to accept queue deliveries");
    }
    const { Receiver } = await sdk();
    return (receiver ??= new Receiver({ currentSigningKey, nextSigningKey, devMode: false }));
  };
  return {
    async enqueue(jobs) {
      // The chunks go out side by side (at most PARALLEL_BATCHES requests in flight), so a sweep batch of 500 costs
      // about one round trip to QStash, not five; the ids come back in the jobs' order whatever order they finish in.
      const chunks: QueueJob[][] = [];
      for (let start = 0; start < jobs.length; start += BATCH_SIZE) chunks.push(jobs.slice(start, start + BATCH_SIZE));
      const ids: string[][] = new Array(chunks.length);
      let next = 0;
      const worker = async () => {
        while (next < chunks.length) {
          const index = next++;
          const chunk = chunks[index]!;
          const results = await (await qstashClient()).batchJSON(
            chunk.map((job) => ({
              url: destinationOf(job.path),
              body: job.body,
              notBefore: job.notBefore ? Math.ceil(job.notBefore.getTime() / 1000) : undefined,
              deduplicationId: job.deduplicationId,
              retries: job.retries,
            })),
          );
          if (results.length !== chunk.length || results.some((r) => typeof r?.messageId !== "string")) {
            throw new Error(`QStash answered a batch of ${chunk.length} with ${JSON.stringify(results)}`);
          }
          ids[index] = results.map((r) => r.messageId);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARALLEL_BATCHES, chunks.length) }, worker));
      return ids.flat();
    },
    async cancel(messageId) {
      try {
        const { cancelled } = await (await qstashClient()).messages.cancel(messageId);
        return cancelled > 0;
      } catch (error) {
        const { QstashError } = await sdk();
        if (error instanceof QstashError && error.status === 404) return false;
        throw error;
      }
    },
    async verify(req) {
      const signature = req.headers.get("upstash-signature");
      if (!signature) throw new AppError("unauthorized", "Missing queue signature");
      const verifier = await qstashReceiver();
      const body = await readBodyText(req, e.MAX_BODY_BYTES);
      try {
        await verifier.verify({ signature, body, url: req.url, clockTolerance: CLOCK_TOLERANCE_SECONDS });
      } catch {
        // SignatureError, or a malformed token the SDK trips over: either way the caller is not QStash.
        throw new AppError("unauthorized", "Invalid queue signature");
      }
      return body;
    },
  };
}

/*
 * The same operations on the current environment, for code outside a request or job (tests, tools). Each call makes
 * its own Client; handlers and jobs use `services().queue`, which keeps one per environment.
 */
export const enqueue = (jobs: readonly QueueJob[]): Promise<string[]> => createQueue(env()).enqueue(jobs);
export const cancel = (messageId: string): Promise<boolean> => createQueue(env()).cancel(messageId);
export const verifyQueueRequest = (req: Request): Promise<string> => createQueue(env()).verify(req);
