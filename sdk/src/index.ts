export { createAmplifyClient, type AmplifyClient, type AmplifyClientOptions, type DataMethod, type PaginatedPath } from "./client.js";
export { AmplifyError } from "./errors.js";
export { retryingFetch, type RetryOptions } from "./retry.js";
export { verifyContractSignature, verifyStandardSignature, verifyWebhook, type WebhookEvent, type WebhookEventType } from "./webhooks.js";
export type { components, operations, paths, webhooks } from "./schema.js";

import type { components } from "./schema.js";
/** The error envelope every failure answers. */
export type ErrorEnvelope = components["schemas"]["Error"];
