import type { z } from "zod";
import type { Clock } from "../clock.js";
import type { log } from "../log.js";
import type { ServiceDb } from "../pg.js";
import { serviceDb, services, type Services } from "../services.js";
import { dedupId, dispatchDue, recoverLeases, type Outbox } from "./outbox.js";
import type { RetrySchedule } from "./retry.js";

/**
 * What a job's `run` receives besides its payload. Every job gets the RLS-bypassing handle (`serviceDb`): no
 * caller's claims apply to work the queue hands over.
 */
export interface JobContext {
  services: Services;
  serviceDb: ServiceDb;
  clock: Clock;
  log: typeof log;
}

export interface JobRunContext extends JobContext {
  /** Puts this job's outbox rows on the queue now if pending and due within the lookahead (else the sweep). */
  dispatch(ids: readonly string[]): Promise<number>;
}

/** Thrown by `run` when retrying the message cannot help: the worker logs it and answers 2xx, so QStash drops it. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

/** Every job is served at `/api/queue/<name>` (netlify/functions/queue-worker.ts). */
export const QUEUE_PATH_PREFIX = "/api/queue/";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySchema = z.ZodType<any, any>;

export interface JobDefinition<S extends AnySchema, R> {
  /**
   * Lower-case words joined by `-`. It is the job's queue path, so messages already on the queue name it: renaming a
   * job loses them.
   */
  name: string;
  /** The message body. The worker parses every delivery with it; one that does not parse is logged and dropped. */
  schema: S;
  /**
   * One attempt. Returns what the worker answers; throws PermanentJobError to drop the message, anything else to let
   * QStash redeliver it.
   */
  run: (payload: z.output<S>, ctx: JobRunContext) => Promise<R>;
  /** When a failed attempt is tried again; applied by the job's own settle step (see ./retry.ts). */
  retry?: RetrySchedule;
  /** Due work kept in a table (see ./outbox.ts): the sweep recovers its expired leases and sends its due rows. */
  outbox?: Outbox & { message: (id: string) => z.input<S> };
  /** Run once per period, at multiples of `seconds` since the epoch; the message body is `{}`. */
  every?: { seconds: number };
}

export interface Job<S extends AnySchema = AnySchema, R = unknown> {
  readonly name: string;
  /** The path QStash calls back: `/api/queue/<name>`. */
  readonly path: string;
  readonly schema: S;
  readonly retry?: RetrySchedule;
  readonly outbox?: JobDefinition<S, R>["outbox"];
  readonly every?: { seconds: number };
  /** Puts one message on the queue (typed by the schema). Jobs with an outbox use `dispatch` instead. */
  enqueue(payload: z.input<S>, options?: { notBefore?: Date; deduplicationId?: string }): Promise<string>;
  /** Sends the outbox rows that are pending and due within the lookahead (all of them, or those of `ids`). */
  dispatch(ids: readonly string[] | "all-due", limit?: number): Promise<number>;
  /** Lease recovery: rows claimed by a worker that died become pending again (or fail, on their last attempt). */
  recover(): Promise<string[]>;
  /** Runs one attempt in this process (the worker route calls it once the message is verified and parsed). */
  run(payload: z.output<S>, ctx?: JobContext): Promise<R>;
}

/** The context jobs run with: the environment's services and the service connection. */
export function jobContext(): JobContext {
  const s = services();
  return { services: s, serviceDb: serviceDb(), clock: s.clock, log: s.log };
}

const namePattern = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Declares a job: its message schema, what one attempt does, and where its due work comes from. */
export function defineJob<S extends AnySchema, R>(def: JobDefinition<S, R>): Job<S, R> {
  if (!namePattern.test(def.name)) throw new Error(`A job name is lower-case words joined by "-": ${def.name}`);
  const path = `${QUEUE_PATH_PREFIX}${def.name}`;
  const outbox = def.outbox;
  const dispatch = async (ids: readonly string[] | "all-due", limit?: number) => {
    if (!outbox) throw new Error(`Job ${def.name} has no outbox to dispatch from`);
    const { queue, clock } = services();
    const now = clock.now().getTime();
    const toMessage = (row: { id: string; due: Date; queued_for: Date | null }) => {
      // Not-before only for a row due later. QStash counts not-before in whole seconds, rounded up so that nothing
      // arrives early; a row already due (an event handed off right after its commit, a retry whose time has come)
      // would otherwise wait for the next whole second: half a second on average, up to a whole one.
      const message = { path, body: outbox.message(row.id), notBefore: row.due.getTime() > now ? row.due : undefined };
      // A message for this attempt that never arrived is sent again under a new id; a duplicate claims nothing.
      const resent = row.queued_for?.getTime() === row.due.getTime();
      return { ...message, deduplicationId: dedupId(def.name, row.id, row.due, resent ? new Date() : undefined) };
    };
    return dispatchDue(serviceDb(), outbox, toMessage, queue.enqueue, ids, limit);
  };
  return {
    name: def.name,
    path,
    schema: def.schema,
    retry: def.retry,
    outbox,
    every: def.every,
    async enqueue(payload, options = {}) {
      const [id] = await services().queue.enqueue([{ path, body: payload, ...options }]);
      return id!;
    },
    dispatch,
    recover: async () => (outbox ? recoverLeases(serviceDb(), outbox) : []),
    run: (payload, ctx = jobContext()) => def.run(payload, { ...ctx, dispatch: (ids) => dispatch(ids) }),
  };
}
