import { z } from "zod";
import { defineJob } from "../core/jobs/define.js";

/**
 * Recurring schedules' occurrences become posts (src/recurring/materialise.ts). The sweeps run it once a minute;
 * creating, changing or resuming a schedule whose next occurrence is already near sends it at once for that schedule.
 * The materialiser (and the post creation it brings) loads on the first run.
 */
export const recurringJob = defineJob({
  name: "recurring-schedules",
  schema: z.object({ scheduleId: z.uuid().optional() }),
  every: { seconds: 60 },
  run: async ({ scheduleId }, ctx) => {
    const { materialiseDue } = await import("./materialise.js");
    return materialiseDue(ctx, { scheduleId });
  },
});
