import { json } from "../../local/emulator.js";

/**
 * The sandboxes' clock: real time plus an offset a test moves forward (one per local home, shared by every network),
 * so tokens, sessions and refresh tokens expire on the networks' side as the home's own clock moves past them:
 *   GET  /sandbox/__sandbox/clock                          { now, offsetSeconds }
 *   POST /sandbox/__sandbox/clock {"advanceSeconds": n}    moves the sandboxes' time forward by n seconds
 *   POST /sandbox/__sandbox/clock {"offsetSeconds": n}     sets the offset from real time (0: real time again)
 * Time only moves forward from what a network has already issued; moving it back is allowed but tokens issued "in
 * the future" then simply live longer.
 */
export interface SandboxClock {
  now(): Date;
  control(req: Request): Promise<Response>;
}

export function sandboxClock(base: () => Date = () => new Date()): SandboxClock {
  let offsetMs = 0;
  const now = () => new Date(base().getTime() + offsetMs);
  const state = () => json(200, { now: now().toISOString(), offsetSeconds: offsetMs / 1000 });
  return {
    now,
    async control(req) {
      if (req.method === "GET") return state();
      if (req.method !== "POST") return json(405, { error: `${req.method} is not allowed on the sandbox clock` });
      const body = (await req.json().catch(() => undefined)) as { advanceSeconds?: unknown; offsetSeconds?: unknown } | undefined;
      const seconds = (v: unknown) => typeof v === "number" && Number.isFinite(v) && Math.abs(v) <= 10 * 365 * 86_400;
      if (body && seconds(body.advanceSeconds)) offsetMs += (body.advanceSeconds as number) * 1000;
      else if (body && seconds(body.offsetSeconds)) offsetMs = (body.offsetSeconds as number) * 1000;
      else return json(400, { error: "send {\"advanceSeconds\": n} or {\"offsetSeconds\": n} (at most ten years)" });
      return state();
    },
  };
}
