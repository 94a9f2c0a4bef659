/**
 * The OpenAPI document built into the openapi function's bundle. In the sources it is `undefined`: the local home
 * generates the document live from the route tables (src/openapi/load.ts). `npm run build` (scripts/bundle-functions.ts)
 * replaces this module, through the esbuild plugin in src/openapi/embed.ts, with the document generated from the same
 * sources at bundle time, so the cloud function serves it from its own bundle: no file read, no network call.
 */
const embeddedDocument: Record<string, unknown> | undefined = undefined;

export default embeddedDocument;
