import { z } from "zod";

/** `POST /api/v1/analytics/sync?profileId=` (an API key: its own profile; a session names one). */
export const analyticsSyncQuery = z.strictObject({ profileId: z.uuid().optional() });

/** `POST /api/v1/analytics/sync`: which accounts will be synced now. */
export const analyticsSyncResponse = z.strictObject({
  success: z.literal(true),
  /** Connected accounts of the profile whose sync is now due. */
  accounts: z.number().int().min(0),
  /** Of those, how many were put on the queue at once (the rest go with the next sweep). */
  queued: z.number().int().min(0),
  message: z.string(),
});
