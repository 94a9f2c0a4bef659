import { route } from "../../core/api.js";
import { analyticsSyncJob } from "./job.js";
import { analyticsSyncQuery, analyticsSyncResponse } from "./schemas.js";

// Ask for a metrics sync of the profile now: every connected account's sync and every post still in its collection
// window become due at once (request_analytics_sync checks the caller may act on the profile; an API key: its own).
// Rate limited per profile (analytics_sync): each request makes calls to every connected network.
export const requestAnalyticsSync = route("POST /api/v1/analytics/sync", {
  auth: "any",
  profile: "query",
  query: analyticsSyncQuery,
  rateLimit: "analytics_sync",
  response: analyticsSyncResponse,
  handle: async ({ db, profileId }) => {
    const row = await db(async (tx) => {
      const [requested] = await tx<{ n: number }[]>`select public.request_analytics_sync(${profileId}) as n`;
      const due = await tx<{ connection_id: string }[]>`
        select connection_id from public.analytics_sync_state where profile_id = ${profileId} and status = 'pending'`;
      return { n: requested!.n, ids: due.map((d) => d.connection_id) };
    });
    const queued = row.ids.length ? await analyticsSyncJob.dispatch(row.ids) : 0;
    return {
      success: true as const,
      accounts: row.n,
      queued,
      message: row.n ? `Metrics of ${row.n} account(s) are being synced` : "No connected account to sync",
    };
  },
});

export const analyticsSyncRoutes = [requestAnalyticsSync];
