import { api } from "../../src/core/api.js";
import { queueWorker } from "../../src/core/jobs/index.js";
import { jobs } from "../../src/jobs.js";

/** The queue's callback, `POST /api/queue/:job`, for every job in src/jobs.ts: verified by signature, one attempt each. */
export default api([queueWorker(jobs)]);
