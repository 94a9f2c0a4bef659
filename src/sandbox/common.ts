/**
 * What every sandbox network shares (src/sandbox/common/): durable state in the `local_sandbox` schema (schema.ts),
 * responses, request bodies, ids and tokens (http.ts), accounts, OAuth grants and the consent page (oauth.ts), posts
 * and media (content.ts), failure markers and rate-limit windows (limits.ts), and the `__sandbox` control endpoints
 * (control.ts). Each network file adds its own wire format on top.
 */
export { dispatcher, json, Reply, type Handler } from "../local/emulator.js";
export * from "./common/schema.js";
export * from "./common/http.js";
export * from "./common/oauth.js";
export * from "./common/content.js";
export * from "./common/limits.js";
export * from "./common/control.js";
export * from "./common/metrics.js";
