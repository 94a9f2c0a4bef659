import { log } from "../log.js";
import { services } from "../services.js";
import type { Job } from "./define.js";
import { BATCH, LOOKAHEAD_SECONDS } from "./outbox.js";

export interface SweepReport {
  /** Per job: outbox rows whose worker died and were made pending again, and messages put on the queue. */
  [job: string]: { recovered: number; enqueued: number };
}

/**
 * Dispatch transactions one sweep runs at once per job. Each holds a pooled connection while its batch goes to the
 * queue, so this stays below the smallest pool a home uses (DATABASE_POOL_MAX, 3 by default).
 */
export const SWEEP_LANES = 2;

/**
 * The scheduled sweep (every minute in the cloud, every SWEEP_INTERVAL_SECONDS locally), for every registered job in
 * registry order: recovers expired leases, then puts the outbox rows due within the lookahead on the queue in bounded
 * batches, and the next run of a periodic job when its time is near. Each job gets at least one batch; further
 * batches run while the time budget (far inside Netlify's 30 s limit) lasts, and what is left goes out on the next
 * run. Its cost grows with due work, never with the size of the tables.
 */
export async function sweep(jobs: readonly Job[], budgetMs = 20_000, lanes = SWEEP_LANES): Promise<SweepReport> {
  const started = Date.now();
  const report: SweepReport = {};
  for (const job of jobs) {
    const entry = { recovered: 0, enqueued: 0 };
    report[job.name] = entry;
    if (job.outbox) {
      entry.recovered = (await job.recover()).length;
      if (entry.recovered) log.warn("recovered work whose worker died", { job: job.name, count: entry.recovered });
      // Several batches in flight (each its own transaction; `skip locked` keeps them on different rows), so the
      // database, this process and the queue work side by side instead of waiting on one another.
      let drained = false;
      const lane = async () => {
        do {
          const n = await job.dispatch("all-due", BATCH);
          entry.enqueued += n;
          if (n < BATCH) drained = true;
        } while (!drained && Date.now() - started < budgetMs);
      };
      await Promise.all(Array.from({ length: lanes }, lane));
    }
    if (job.every) entry.enqueued += await enqueuePeriodic(job, job.every.seconds);
  }
  return report;
}

/**
 * A periodic job runs at every multiple of its period. Each sweep within the lookahead of such a time (just before
 * or just after) sends the message for it, under the deduplication id `<job>:<epoch ms>`: the sweeps around one time
 * all fall inside QStash's deduplication window (10 minutes), so the job runs once for it. A time no sweep came near
 * (the sweep was down for longer than the lookahead) is skipped; the next one comes a period later.
 */
async function enqueuePeriodic(job: Job, seconds: number): Promise<number> {
  const now = services().clock.now().getTime();
  const period = seconds * 1000;
  const current = Math.floor(now / period) * period;
  const times = [current, current + period].filter((at) => Math.abs(at - now) <= LOOKAHEAD_SECONDS * 1000);
  for (const at of times) {
    await job.enqueue({}, { notBefore: at > now ? new Date(at) : undefined, deduplicationId: `${job.name}:${at}` });
  }
  return times.length;
}
