import { env } from "../env.js";
import { log } from "../log.js";
import type { Sql } from "../pg.js";

/**
 * Monthly API request counts, kept in this process and written to `public.usage_counters` in batches, so no request
 * writes the owner's shared counter row (on which concurrent requests of one owner used to queue).
 *
 * How a request is decided. The API-key lookup reads the owner's counter for the billing month (`dbUsed`, a plain
 * read in the lookup's one statement). This process adds what it has admitted but not yet written: `pending` (not
 * sent) and `inflight` (sent in a flush that has not answered). `confirmed` is the total the last flush of this
 * process returned. The estimate is
 *
 *     max(dbUsed, confirmed + inflight) + pending
 *
 * Each term is a total that has really been reached (a read counter, or one this process's own flush returned plus
 * the counts of that flush), so the estimate never counts one request twice and never refuses before the limit. A
 * request is admitted when the estimate is below the limit, and then counted in `pending`.
 *
 * Writing: one upsert for every owner with pending counts, adding them to the counters and returning the new totals,
 * at the latest `intervalMs` after the first unwritten count, as soon as `batch` counts are unwritten, and on shutdown
 * (`closeServices`). A process never holds more than `batch` unwritten counts: a request that would go past that waits
 * for the flush in flight. A failed flush keeps its counts for the next one.
 *
 * The bound. With one process (the local home) the estimate is exact: it is the only writer, so the limit is never
 * overshot. With N processes serving one owner at once, what one of them cannot see is the others' unwritten counts,
 * at most `batch` each, so a burst admits at most (N − 1) × `batch` requests beyond the monthly quota (plus what the
 * others admit during one key lookup, a few ms), and the counter ends exact: every admitted request is written once.
 * In the cloud a function instance serves one request at a time and may be frozen as soon as it has answered, so the
 * pipeline flushes after each answer that counted (Netlify's `waitUntil`, off the request's path): there N is the
 * number of requests of one owner in flight at once, and each holds at most one unwritten count.
 */
export interface ApiUsageOptions {
  intervalMs: number;
  batch: number;
}

/** Where one owner stands for one billing month, as this process knows it. */
interface Entry {
  userId: string;
  periodStart: Date;
  periodEnd: Date;
  /** The last total a flush of this process returned (0 until one has). */
  confirmed: number;
  inflight: number;
  pending: number;
  /** When this process last counted for it (entries idle for a minute with nothing unwritten are dropped). */
  touchedAt: number;
}

export interface ApiUsageDecision {
  counted: boolean;
  /** The estimate after counting (when counted) or at refusal. */
  used: number;
}

const IDLE_MS = 60_000;

export class ApiUsageMeter {
  private readonly entries = new Map<string, Entry>();
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sql: Sql | undefined;
  private options: ApiUsageOptions = { intervalMs: 1000, batch: 100 };
  /** `now`: where "now" comes from, for the idle clean-up (tests). */
  constructor(private readonly now: () => number = Date.now) {}

  /** Flushes done and statements sent (the benchmark reports them). */
  readonly stats = { flushes: 0, failures: 0, counted: 0 };

  /**
   * Counts one API request for `userId` this billing month, unless the month's `limit` (null: unlimited) is reached.
   * `dbUsed` is the counter the key lookup read; `sql` is the service pool the batch will be written with.
   */
  async count(
    request: { userId: string; periodStart: Date; periodEnd: Date; limit: number | null; dbUsed: number },
    sql: Sql,
    options: ApiUsageOptions,
  ): Promise<ApiUsageDecision> {
    this.sql = sql;
    this.options = options;
    // Back-pressure: never more than `batch` unwritten counts in this process (the overshoot bound depends on it).
    while (this.unflushed >= options.batch && this.flushing) await this.flushing;
    const key = `${request.userId}|${request.periodStart.getTime()}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { userId: request.userId, periodStart: request.periodStart, periodEnd: request.periodEnd, confirmed: 0, inflight: 0, pending: 0, touchedAt: 0 };
      this.entries.set(key, e);
    }
    e.touchedAt = this.now();
    const estimate = Math.max(request.dbUsed, e.confirmed + e.inflight) + e.pending;
    if (request.limit !== null && estimate >= request.limit) return { counted: false, used: estimate };
    e.pending++;
    this.unflushed++;
    this.stats.counted++;
    if (this.unflushed >= options.batch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), options.intervalMs).unref();
    return { counted: true, used: estimate + 1 };
  }

  /**
   * The month's total as this process knows it, from a counter just read (`dbUsed`): what `count` compares with the
   * limit. For reports (GET /api/billing/subscription-status), so that they include counts not yet written.
   */
  estimate(userId: string, periodStart: Date, dbUsed: number): number {
    const e = this.entries.get(`${userId}|${periodStart.getTime()}`);
    return e ? Math.max(dbUsed, e.confirmed + e.inflight) + e.pending : dbUsed;
  }

  /** Counts admitted but not yet written (pending and in flight). */
  unwritten(): number {
    return this.unflushed;
  }

  /** Entries held (for the memory benchmark). */
  size(): number {
    return this.entries.size;
  }

  /** Writes what is pending (joining a flush in flight first). Never throws: a failed batch stays pending. */
  async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.flushing) return this.flushing;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = [...this.entries.values()].filter((e) => e.pending > 0);
    const sql = this.sql;
    if (!batch.length || !sql) {
      this.prune();
      return;
    }
    for (const e of batch) {
      e.inflight = e.pending;
      e.pending = 0;
    }
    const run = this.write(sql, batch).finally(() => {
      this.flushing = undefined;
      this.prune();
      // Counts that arrived meanwhile (or came back from a failure) get their own timer.
      if (this.unflushed > 0) this.timer ??= setTimeout(() => void this.flush(), this.options.intervalMs).unref();
    });
    this.flushing = run;
    return run;
  }

  /** Writes everything, waiting for flushes in flight: the shutdown path. */
  async flushAll(): Promise<void> {
    for (let attempt = 0; attempt < 3 && this.unflushed > 0; attempt++) await this.flush();
    if (this.flushing) await this.flushing;
  }

  private async write(sql: Sql, batch: Entry[]): Promise<void> {
    try {
      // One statement for the whole batch. Owners deleted since (their counters go with them) are skipped.
      const rows = await sql<{ user_id: string; period_start: Date; used: number }[]>`
        insert into public.usage_counters as c (user_id, metric, period_start, period_end, used)
        select b.user_id, 'api_requests', b.period_start, b.period_end, b.n
        from unnest(${batch.map((e) => e.userId)}::uuid[], ${batch.map((e) => e.periodStart.toISOString())}::timestamptz[],
                    ${batch.map((e) => e.periodEnd.toISOString())}::timestamptz[], ${batch.map((e) => e.inflight)}::integer[])
               as b (user_id, period_start, period_end, n)
        where exists (select 1 from auth.users u where u.id = b.user_id)
        on conflict (user_id, metric, period_start) do update set used = c.used + excluded.used, updated_at = now()
        returning c.user_id, c.period_start, c.used`;
      const totals = new Map(rows.map((r) => [`${r.user_id}|${r.period_start.getTime()}`, r.used]));
      for (const e of batch) {
        const total = totals.get(`${e.userId}|${e.periodStart.getTime()}`);
        if (total !== undefined) e.confirmed = Math.max(e.confirmed, total);
        this.unflushed -= e.inflight;
        e.inflight = 0;
      }
      this.stats.flushes++;
    } catch (error) {
      for (const e of batch) {
        e.pending += e.inflight;
        e.inflight = 0;
      }
      this.stats.failures++;
      log.warn("API usage: writing the monthly counts failed; they stay pending for the next flush", {
        owners: batch.length,
        error,
      });
    }
  }

  /** Drops owners with nothing unwritten that this process has not counted for in a minute. */
  private prune(): void {
    const idleSince = this.now() - IDLE_MS;
    for (const [key, e] of this.entries) {
      if (e.pending === 0 && e.inflight === 0 && e.touchedAt < idleSince) this.entries.delete(key);
    }
  }
}

/** The process's one meter (services are rebuilt when the environment is re-read; the counts are the process's). */
let meter: ApiUsageMeter | undefined;

export function apiUsageMeter(): ApiUsageMeter {
  return (meter ??= new ApiUsageMeter());
}

/** Writes every unwritten count now (shutdown, the cloud's after-response hook, tests that read the counter). */
export function flushApiUsage(): Promise<void> {
  return meter ? meter.flushAll() : Promise.resolve();
}

/**
 * In the cloud, after each answer: a function instance may be frozen (and later dropped) as soon as it has answered,
 * so counts it holds are written then; the pipeline (src/core/api.ts) keeps the instance alive for the write through
 * Netlify's `context.waitUntil` without delaying the answer. The local home (one long-lived process) writes on its
 * timer and at shutdown, so this is undefined there.
 */
export function apiUsageWriteAfterAnswer(): Promise<void> | undefined {
  if (!meter || meter.unwritten() === 0 || env().AMPLIFY_HOME !== "cloud") return undefined;
  return meter.flushAll();
}
