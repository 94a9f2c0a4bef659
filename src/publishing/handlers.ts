import { z } from "zod";
import { route } from "../core/api.js";
import { log } from "../core/log.js";
import { verifyQueueRequest } from "../core/queue.js";
import { executePublish } from "./executor.js";

const publishMessageSchema = z.object({ targetId: z.uuid() });

// POST /api/queue/publish — QStash's callback: one publish attempt for one target
export const publishWorkerHandler = route({
  auth: "none",
  handle: async ({ req }) => {
    const raw = await verifyQueueRequest(req);
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      message = undefined;
    }
    const parsed = publishMessageSchema.safeParse(message);
    if (!parsed.success) {
      // Signed by us but unreadable: retrying cannot help, so acknowledge it (2xx stops QStash) and log it.
      log.error("unreadable publish message", { body: raw.slice(0, 200) });
      return { ok: false, result: "ignored" };
    }
    return { ok: true, result: await executePublish(parsed.data.targetId) };
  },
});
