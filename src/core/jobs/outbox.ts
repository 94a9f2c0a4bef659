import type { ServiceDb, Tx } from "../pg.js";
import type { QueueJob } from "../queue.js";

/**
 * A due-work outbox: a table with one row per unit of work, each row due at some time, and the queue carrying one
 * message per attempt. Described per job as data; the SQL below is the same for every job.
 *
 * The table has `id` (uuid), `status`, `queued_for` (the due time the last message was sent for) and `queued_at`
 * (when it was sent) besides the columns named here, and partial indexes on its pending rows by due time and on its
 * claimed rows by lease, so the sweep reads only due work, never the whole table.
 */
export interface Outbox {
  /** e.g. `public.post_targets`. */
  table: string;
  /** The column holding when the row's next attempt is due. */
  due: string;
  /** The column holding the claim's expiry while a worker holds the row. */
  lease: string;
  /** `pending`: waiting for its due time; `claimed`: held by a worker under a lease. */
  status: { pending: string; claimed: string };
  /** What lease recovery writes besides making the row pending again and due now. */
  recovery?: {
    /** A row whose claim was its last attempt (`attempts` ≥ `max`: the claim counted it) gets `status` instead. */
    exhausted?: { attempts: string; max: string; status: string };
    /** Recorded on the row unless it already holds an error. */
    error?: { column: string; message: string };
  };
}

/** Rows due within this window are put on the queue now, with not-before set to their second. */
export const LOOKAHEAD_SECONDS = 120;
/** A message sent this long ago whose row is still pending never arrived: it is sent again under a new id. */
export const RESEND_AFTER_SECONDS = 15 * 60;
/** At most this many rows per transaction; the sweep runs batches until it runs out of due rows or time. */
export const BATCH = 500;

/**
 * The queue's deduplication id for one attempt: `<job>:<row id>:<due epoch ms>`, so the same attempt sent twice
 * (a sweep and a worker racing) is enqueued once. A resend of a message that never arrived gets a new id.
 */
export function dedupId(job: string, id: string, due: Date, resentAt?: Date): string {
  return `${job}:${id}:${due.getTime()}${resentAt ? `:resent:${resentAt.getTime()}` : ""}`;
}

interface DueRow {
  id: string;
  due: Date;
  queued_for: Date | null;
}

/**
 * Puts pending rows on the queue for their due time and records which due time each message is for, so neither the
 * sweep nor a worker sends the same attempt twice (the deduplication id repeats that guarantee inside QStash). Rows
 * stay locked while the messages are sent: if sending fails nothing is marked and the sweep tries again; if the commit
 * fails after sending, the next send is deduplicated. Rows no longer pending, or due later than the lookahead, are
 * left to the sweep. Returns how many messages were sent.
 */
export async function dispatchDue(
  serviceDb: ServiceDb,
  outbox: Outbox,
  toMessage: (row: DueRow) => QueueJob,
  send: (jobs: QueueJob[]) => Promise<unknown>,
  ids: readonly string[] | "all-due",
  limit = BATCH,
): Promise<number> {
  if (ids !== "all-due" && ids.length === 0) return 0;
  return serviceDb(async (tx) => {
    const due = await dueRows(tx, outbox, ids, limit);
    if (!due.length) return 0;
    await send(due.map(toMessage));
    await tx`
      update ${tx(outbox.table)} set queued_for = ${tx(outbox.due)}, queued_at = now()
      where id = any(${due.map((r) => r.id)}::uuid[])`;
    return due.length;
  });
}

/**
 * Two index-backed reads, so a backlog already on the queue is never scanned again (that would make draining it
 * quadratic): rows with no message for their due time yet, then messages sent long ago that never arrived. Both lock
 * what they take; concurrent sweeps skip each other's rows.
 */
async function dueRows(tx: Tx, o: Outbox, ids: readonly string[] | "all-due", limit: number): Promise<DueRow[]> {
  const only = ids === "all-due" ? tx`true` : tx`id = any(${ids as string[]}::uuid[])`;
  const due = tx(o.due);
  const fresh = await tx<DueRow[]>`
    select id, ${due} as due, queued_for from ${tx(o.table)}
    where status = ${o.status.pending} and queued_for is distinct from ${due} and ${only}
      and ${due} <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
    order by ${due}
    limit ${limit}
    for no key update skip locked`;
  if (fresh.length >= limit) return fresh;
  const stale = await tx<DueRow[]>`
    select id, ${due} as due, queued_for from ${tx(o.table)}
    where status = ${o.status.pending} and queued_for = ${due} and ${only}
      and queued_at < now() - make_interval(secs => ${RESEND_AFTER_SECONDS})
      and ${due} <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
    order by queued_at
    limit ${limit - fresh.length}
    for no key update skip locked`;
  return [...fresh, ...stale];
}

/**
 * Lease recovery: rows whose worker died (claimed, lease expired) become pending again and due now, so the sweep sends
 * them at once; with `recovery.exhausted`, a row whose claim was its last attempt fails instead. Returns their ids.
 */
export async function recoverLeases(serviceDb: ServiceDb, o: Outbox): Promise<string[]> {
  const exhausted = o.recovery?.exhausted;
  const error = o.recovery?.error;
  const rows = await serviceDb(
    (tx) => tx<{ id: string }[]>`
      update ${tx(o.table)} set
        ${
          exhausted
            ? tx`status = case when ${tx(exhausted.attempts)} < ${tx(exhausted.max)}
                               then ${o.status.pending} else ${exhausted.status} end,
                 ${tx(o.due)} = case when ${tx(exhausted.attempts)} < ${tx(exhausted.max)} then now() end,`
            : tx`status = ${o.status.pending}, ${tx(o.due)} = now(),`
        }
        ${error ? tx`${tx(error.column)} = coalesce(${tx(error.column)}, ${error.message}),` : tx``}
        ${tx(o.lease)} = null
      where status = ${o.status.claimed} and ${tx(o.lease)} < now()
      returning id`,
  );
  return rows.map((r) => r.id);
}
