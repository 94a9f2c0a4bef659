import { log } from "../core/log.js";
import { router, type Params } from "../core/router.js";

/**
 * The one HTTP helper every emulator (src/local/*-emulator.ts, src/local/stripe/) and sandbox network (src/sandbox/)
 * uses: a route table (src/core/router.ts) of handlers, a thrown `Reply` for a step that has already decided the
 * answer (a refused key, a bad body), and the service's own error shape as a parameter, so each emulator answers an
 * unknown path (404), a known path under another method (405, with `Allow`) and an unexpected failure (500) exactly
 * as the service it stands in for words them.
 */

/** A JSON answer (no body for 204). */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Thrown by a step that has already decided the answer; the dispatcher answers with `response`. */
export class Reply extends Error {
  constructor(readonly response: Response) {
    super(`emulator reply ${response.status}`);
  }
}

/** How a service words the answers the dispatcher gives on its own. */
export interface ErrorShape {
  /** No route has this path (status 404). */
  notFound(method: string, path: string): Response;
  /** Routes have this path under other methods only (status 405; the dispatcher adds `Allow`). */
  methodNotAllowed(method: string, path: string, allow: string[]): Response;
  /** An unexpected failure (logged by the dispatcher). Without it the error propagates to the caller. */
  internal?(error: unknown): Response;
}

export type Handler<C = void> = (req: Request, params: Params, context: C) => Promise<Response> | Response;

export type Dispatch<C> = (req: Request, path: string, context: C) => Promise<Response>;

/**
 * Compiles `table` ("METHOD /path" → handler, paths relative to the emulator's mount) into one dispatcher: the
 * handler for the path, a `Reply` it throws turned into its response, and the service's 404, 405 and 500.
 */
export function dispatcher<C = void>(name: string, table: Record<string, Handler<C>>, shape: ErrorShape): Dispatch<C> {
  const routes = router(table);
  return async (req, path, context) => {
    const method = req.method.toUpperCase();
    try {
      const m = routes.match(method, path);
      if (m.kind === "found") return await m.value(req, m.params, context);
      if (m.kind === "not_found") return shape.notFound(method, path);
      const res = shape.methodNotAllowed(method, path, m.allow);
      res.headers.set("allow", m.allow.join(", "));
      return res;
    } catch (error) {
      if (error instanceof Reply) return error.response;
      if (!shape.internal) throw error;
      log.error(`${name} error`, { method, path, error });
      return shape.internal(error);
    }
  };
}
