/**
 * The database types every module uses. The pool itself is kept by `services()` (src/core/services.ts): handlers get
 * `ctx.db` (as the caller) and, when their route declares `service: true`, `ctx.serviceDb`; jobs get a `ServiceDb`;
 * modules that need the service connection take it as a parameter.
 */
import { closeServices } from "./services.js";

export type { CallerDb, Claims, ServiceDb, Sql, Tx } from "./pg.js";

/** Ends the pool. Kept for src/local/home.ts and bench/sweep/enqueue.ts, which can call `closeServices()` instead. */
export async function closeSql(): Promise<void> {
  await closeServices();
}
