import { log } from "../log.js";
import { BATCH } from "./outbox.js";

/**
 * The after-commit hand-off (see `transaction` in src/core/pg.ts and migration 20261206083000): outbox rows created by
 * a transaction that just committed, as `<job>:<id>` entries, are put on the queue now through their job's `dispatch`
 * (the same path the sweep takes: marked `queued_for`, deduplication id, rows no longer pending or not due within the
 * lookahead left alone), so their first attempt does not wait for the next sweep. It never throws: a failure is logged
 * and the sweep, which stays the safety net, sends the rows on its next run.
 */
export async function handOff(entries: readonly string[]): Promise<void> {
  const byJob = new Map<string, string[]>();
  for (const entry of entries) {
    const at = entry.indexOf(":");
    if (at <= 0) continue;
    const job = entry.slice(0, at);
    byJob.set(job, [...(byJob.get(job) ?? []), entry.slice(at + 1)]);
  }
  try {
    // The registry is loaded on use: it imports every job, and jobs import the database layer that calls this.
    const { jobs } = await import("../../jobs.js");
    for (const [name, ids] of byJob) {
      const job = jobs.find((j) => j.name === name);
      if (!job?.outbox) {
        log.error("hand-off for a job without an outbox", { job: name, count: ids.length });
        continue;
      }
      for (let start = 0; start < ids.length; start += BATCH) await job.dispatch(ids.slice(start, start + BATCH));
    }
  } catch (error) {
    log.warn("after-commit hand-off failed; the sweep will send the work", { error, count: entries.length });
  }
}
