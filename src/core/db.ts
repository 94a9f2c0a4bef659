/**
 * The database types every module uses. The pool itself is kept by `services()` (src/core/services.ts): handlers get
 * `ctx.db` (as the caller) and, when their route declares `service: true`, `ctx.serviceDb`; jobs get a `ServiceDb`;
 * modules that need the service connection take it as a parameter. `closeServices()` ends the pool.
 */
export type { CallerDb, Claims, ServiceDb, Sql, Tx } from "./pg.js";
