import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { log } from "../core/log.js";
import { serveInProcess } from "../platforms/http.js";
import type { FetchHandler } from "./server.js";
import { logRequest } from "./terminal-log.js";

/**
 * Serves the URLs under `prefix` with `handler` in this process (src/platforms/http.ts `serveInProcess`): the
 * home's own parts (the queue emulator's deliveries, the adapters' calls to the sandbox networks) reach one another
 * without a socket to the same process, whose client and server HTTP work cost more CPU than the handlers. What the
 * local server adds is kept: the request line in the log, an `x-request-id` on every answer, and a 500 for a
 * handler that throws. Returns the undo.
 */
export function serveLocallyInProcess(prefix: string, handler: FetchHandler): () => void {
  return serveInProcess(prefix.replace(/\/+$/, ""), async (req) => {
    const startedAt = performance.now();
    let requestId: string = randomUUID();
    let response: Response;
    try {
      response = await handler(req);
    } catch (error) {
      log.error("local server error", { error, requestId });
      response = Response.json({ success: false, error: "Internal server error", code: "internal_error", requestId }, { status: 500 });
    }
    const given = response.headers.get("x-request-id");
    if (given) requestId = given;
    else {
      try {
        response.headers.set("x-request-id", requestId);
      } catch {
        // An immutable Response (a fetch's, passed through): the id is in the log line only.
      }
    }
    logRequest({ method: req.method, path: new URL(req.url).pathname, status: response.status, durationMs: Math.round(performance.now() - startedAt), requestId });
    return response;
  });
}
