import { z } from "zod";
import { defineJob } from "../core/jobs/define.js";

/** Connect-flow states are single-use and short-lived; one that expired over a day ago is only clutter. */
export const pruneOAuthStatesJob = defineJob({
  name: "prune-oauth-states",
  schema: z.object({}),
  every: { seconds: 3600 },
  run: async (_, { serviceDb }) => {
    const deleted = await serviceDb((tx) => tx`delete from public.oauth_states where expires_at < now() - interval '1 day'`);
    return { deleted: deleted.count };
  },
});
