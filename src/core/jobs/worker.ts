import { z } from "zod";
import { route } from "../api.js";
import { log } from "../log.js";
import { PermanentJobError, type Job } from "./define.js";

/** The worker's answer: `ok` false when the message was dropped (`result` says why), else the job's own result. */
export const workerResponse = z.object({ ok: z.boolean(), result: z.unknown() });

/**
 * The one queue callback, `POST /api/queue/:job`: the QStash signature is checked on the raw body (401 otherwise),
 * then the body is parsed with the job's schema and the job runs one attempt. A message that cannot succeed however
 * often it is delivered (a job no longer defined, a body the schema refuses, a PermanentJobError) is logged and
 * answered 2xx, which stops QStash; jobs record their own retries, so QStash redelivers only when the worker itself
 * failed (5xx).
 */
export function queueWorker(jobs: readonly Job[]) {
  const byName = new Map(jobs.map((job) => [job.name, job]));
  return route("POST /api/queue/:job", {
    auth: "none",
    response: workerResponse,
    handle: async ({ req, params, services }) => {
      const raw = await services.queue.verify(req);
      const job = byName.get(params.job);
      if (!job) {
        log.error("queue message for a job that does not exist", { job: params.job, body: raw.slice(0, 200) });
        return { ok: false, result: "ignored" };
      }
      let message: unknown;
      try {
        message = JSON.parse(raw);
      } catch {
        message = undefined;
      }
      const parsed = job.schema.safeParse(message);
      if (!parsed.success) {
        log.error("unreadable queue message", { job: job.name, body: raw.slice(0, 200) });
        return { ok: false, result: "ignored" };
      }
      try {
        return { ok: true, result: await job.run(parsed.data) };
      } catch (error) {
        if (!(error instanceof PermanentJobError)) throw error;
        log.error("queue message failed for good", { job: job.name, error });
        return { ok: false, result: "failed" };
      }
    },
  });
}
