import { z } from "zod";
import { defineJob } from "../core/jobs/define.js";

/** How often the refresh-ahead job runs. Every rule of `runTokenHealth` (./refresh-job.ts) looks further ahead than this. */
export const TOKEN_HEALTH_PERIOD_SECONDS = 300;

/**
 * Refresh-ahead and expiry warnings for every connection (see `runTokenHealth`, ./refresh-job.ts), every 5 minutes, so
 * a publish almost never has to refresh a token in its critical minute and users hear about a connection before it
 * breaks. The run (token refresh, adapters) loads on the first run, not when the job registry is imported.
 */
export const tokenHealthJob = defineJob({
  name: "token-health",
  schema: z.object({}),
  every: { seconds: TOKEN_HEALTH_PERIOD_SECONDS },
  run: async (_, { serviceDb, clock }) => {
    const { runTokenHealth } = await import("./refresh-job.js");
    return runTokenHealth(serviceDb, clock.now());
  },
});
