import { z } from "zod";
import { declaredStatuses, type AnyRouteDef } from "../core/api.js";
import { errorStatus, type ErrorCode } from "../core/errors.js";
import contractExamples from "./contract-examples.json" with { type: "json" };
import { acceptsNothing, SchemaStore, type JsonSchema } from "./json-schema.js";
import { signatureDescription, webhookEventSummaries, webhookEventTypes, webhookPayloadSchema } from "./webhooks.js";

/**
 * The OpenAPI 3.1 document, generated from the route tables every function serves (`api([...])` in
 * netlify/functions/*.ts exposes its `table`) and their zod schemas. Nothing here lists routes: a route added to a
 * table appears in the document, with its parameters, bodies, answers and the errors its pipeline steps can give.
 */

/** One function's routes: its file name (netlify/functions/<name>.ts) and its table. */
export interface FunctionRoutes {
  name: string;
  table: Readonly<Record<string, AnyRouteDef>>;
}

export interface DocumentOptions {
  /** The walkthrough (markdown) shown as the document's introduction. */
  walkthrough?: string;
  /** The package version, shown as `info.version`'s build part. */
  version?: string;
}

/** A route key's method and its OpenAPI path (`/api/v1/posts/:postId` → `/api/v1/posts/{postId}`). */
export function operationOf(key: string): { method: string; path: string; params: { name: string; pattern?: string }[] } {
  const space = key.indexOf(" ");
  const method = key.slice(0, space).toLowerCase();
  const params: { name: string; pattern?: string }[] = [];
  const path = key
    .slice(space + 1)
    .split("/")
    .map((segment, i, all) => {
      if (segment === "*" && i === all.length - 1) {
        params.push({ name: "rest" });
        return "{rest}";
      }
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)(?:\((.+)\))?$/.exec(segment);
      if (!m) return segment;
      params.push({ name: m[1]!, pattern: m[2] ? `^(?:${m[2]})$` : undefined });
      return `{${m[1]}}`;
    })
    .join("/");
  return { method, path, params };
}

const camel = (words: string[]) =>
  words
    .map((w, i) => w.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : "")))
    .map((w, i) => (i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1)))
    .join("");

/** `GET /api/v1/posts/{postId}` → `getPostsByPostId`; the browser family (`/api/…` without v1) → `dashboard…`. */
function operationIdOf(method: string, path: string, functionName: string): string {
  const segments = path.split("/").filter(Boolean);
  if (segments.length <= 2 && segments[1] === "v1") segments.push(functionName);
  if (segments[0] === "api") segments.shift();
  const words: string[] = [method];
  if (segments[0] === "v1") segments.shift();
  else words.push("dashboard");
  for (const s of segments) words.push(s.startsWith("{") ? `by-${s.slice(1, -1)}` : s);
  return camel(words);
}

/** Feature tags: the function's name, except for the few families that share a function with another feature. */
const pathTags: [RegExp, string][] = [
  [/\/(members|invitations)(\/|$)|\/transfer-ownership/, "team"],
  [/\/(job-logs|delivery-metrics)(\/|$)/, "delivery"],
  [/\/scheduling\//, "analytics"],
  [/^\/api\/queue\//, "internal"],
];

const tagDescriptions: Record<string, string> = {
  discovery: "What the API offers, how to authenticate and what it costs",
  config: "Public configuration for the browser",
  profiles: "Profiles: the workspaces posts, connections, keys and webhooks belong to",
  team: "Members, roles and invitations of a profile",
  "api-keys": "API keys (one profile each; paid plans)",
  platforms: "The networks and what each supports",
  connections: "Connected social accounts and the OAuth flow",
  media: "Uploading media for posts",
  posts: "Creating, scheduling and listing posts",
  delivery: "Job logs and delivery metrics",
  webhooks: "Webhook endpoints and deliveries",
  billing: "Plans, checkout and the Stripe webhook",
  templates: "Content templates with variables",
  "recurring-schedules": "Recurring schedules that create posts",
  analytics: "Post and account analytics, best times to post",
  "white-label": "The white-label add-on: branding and the account's own network apps",
  openapi: "This document",
  internal: "Queue callbacks (signed by the queue; not for integrators)",
};

function tagOf(functionName: string, path: string): string {
  for (const [pattern, tag] of pathTags) if (pattern.test(path)) return tag;
  return functionName;
}

/** Which error statuses a route can answer, from the pipeline steps its definition turns on. */
function errorStatusesOf(method: string, def: AnyRouteDef, hasPathParams: boolean): number[] {
  const statuses = new Set<number>([500]);
  const authed = def.auth !== "none";
  const writes = method !== "get" && method !== "head";
  if (def.body || def.query || def.profile || authed) statuses.add(400);
  if (authed) statuses.add(401);
  if (def.auth === "any") statuses.add(402).add(429);
  if (def.auth === "session") statuses.add(403);
  if (authed && writes) statuses.add(402).add(403).add(409);
  if (hasPathParams || def.profile || authed) statuses.add(404);
  if (def.body) statuses.add(413).add(415);
  if (def.rateLimit) statuses.add(429);
  return [...statuses].sort((a, b) => a - b);
}

/**
 * The success statuses a route declares (`status` on `route()`, 200 by default): the local home fails any answer with
 * another, so the document cannot list a status the route does not answer. A redirect (3xx) or 204 has no body, so
 * its response schema must accept nothing, and a route whose schema accepts nothing must declare such a status.
 */
function successStatusesOf(key: string, def: AnyRouteDef, bodiless: boolean): number[] {
  const statuses = declaredStatuses(def);
  const withoutBody = statuses.filter((s) => s === 204 || s >= 300);
  if (bodiless ? withoutBody.length !== statuses.length : withoutBody.length > 0) {
    throw new Error(`${key}: statuses without a body (204, 3xx; declared ${statuses.join(", ")}) go with a response schema that accepts nothing (z.never()), and only with one`);
  }
  return statuses;
}

const statusTexts: Record<number, string> = {
  400: "Bad request: invalid JSON, a field or query parameter that fails validation (`details` names each)",
  401: "Missing, malformed, unknown or revoked credentials",
  402: "Payment required: the API key's owner has no active paid plan, or a plan limit was reached",
  403: "Forbidden: an API key on a dashboard-only route, or a role that may not do this",
  404: "Not found, or not visible with these credentials",
  405: "Method not allowed on this path (see `Allow`)",
  409: "Conflict with the resource's current state",
  413: "Request body too large",
  415: "Request body is not JSON",
  429: "Rate limit or monthly API quota exceeded (see `Retry-After`)",
  500: "Internal error (the `requestId` finds it in the logs)",
  503: "A service the API depends on is unavailable; retry later",
};

function errorResponseName(status: number): string {
  return `Error${status}`;
}

function errorComponents(): { schemas: Record<string, JsonSchema>; responses: Record<string, unknown> } {
  const codes = Object.keys(errorStatus) as ErrorCode[];
  const envelope: JsonSchema = {
    type: "object",
    description: "The error envelope every failure answers",
    required: ["success", "error", "code", "requestId"],
    additionalProperties: false,
    properties: {
      success: { const: false },
      error: { type: "string", description: "What went wrong, for a person" },
      code: { type: "string", enum: codes, description: "What went wrong, for a program" },
      requestId: { type: "string", description: "Also in the X-Request-Id header; quote it in support requests" },
      details: {
        description: "Validation errors: one entry per field; other errors may carry an object",
        oneOf: [
          {
            type: "array",
            items: {
              type: "object",
              required: ["field", "message"],
              properties: { field: { type: "string" }, message: { type: "string" }, platform: { type: "string" }, rule: { type: "string" } },
            },
          },
          { type: "object" },
        ],
      },
    },
  };
  const responses: Record<string, unknown> = {};
  const statuses = [...new Set(Object.values(errorStatus))].sort((a, b) => a - b);
  for (const status of statuses) {
    const statusCodes = codes.filter((c) => errorStatus[c] === status);
    const headers: Record<string, unknown> = { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } };
    if (status === 429) {
      headers["Retry-After"] = { $ref: "#/components/headers/Retry-After" };
      Object.assign(headers, rateLimitHeaderRefs());
    }
    if (status === 405) headers.Allow = { description: "The methods this path accepts", schema: { type: "string" } };
    responses[errorResponseName(status)] = {
      description: statusTexts[status] ?? `Error ${status}`,
      headers,
      content: {
        "application/json": {
          schema: { allOf: [{ $ref: "#/components/schemas/Error" }, { properties: { code: { enum: statusCodes } } }] },
          example: { success: false, error: statusTexts[status] ?? "Error", code: statusCodes[0], requestId: "3f1b0c9e-9a51-4c47-8f0e-5d2b7c1a4e11" },
        },
      },
    };
  }
  responses.Error = {
    description: "Any other failure, in the error envelope",
    headers: { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } },
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
  return { schemas: { Error: envelope }, responses };
}

const rateLimitHeaderRefs = () => ({
  "X-RateLimit-Limit": { $ref: "#/components/headers/X-RateLimit-Limit" },
  "X-RateLimit-Remaining": { $ref: "#/components/headers/X-RateLimit-Remaining" },
  "X-RateLimit-Reset": { $ref: "#/components/headers/X-RateLimit-Reset" },
});

const headerComponents = {
  "X-Request-Id": { description: "This request's id (yours when you sent a sane X-Request-Id)", schema: { type: "string" } },
  "X-RateLimit-Limit": { description: "Requests allowed in the API key's current window", schema: { type: "integer" } },
  "X-RateLimit-Remaining": { description: "Requests left in the current window", schema: { type: "integer" } },
  "X-RateLimit-Reset": { description: "When the window resets, in Unix seconds", schema: { type: "integer" } },
  "Retry-After": { description: "Seconds to wait before trying again", schema: { type: "integer" } },
  "Idempotent-Replayed": { description: "`true` when this answer replays the first request with this Idempotency-Key", schema: { type: "string" } },
  Location: { description: "Where the redirect goes", schema: { type: "string" } },
};

/** Routes that read an `Idempotency-Key` header (src/posts/idempotency.ts). */
const idempotentRoutes = new Set(["POST /api/v1/post"]);

type ExampleSet = Record<string, unknown>;
const examplesByShape = new Map<string, ExampleSet>();
for (const [key, value] of Object.entries(contractExamples as Record<string, ExampleSet>)) {
  examplesByShape.set(key.replace(/\{[^}]+\}/g, "{}"), value);
}

/** The contract's examples for an operation, by kind (`request`, `response`, and a second of each when it has one). */
function examplesFor(method: string, path: string, kind: "request" | "response"): Record<string, { summary: string; value: unknown }> | undefined {
  const set = examplesByShape.get(`${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, "{}")}`);
  if (!set) return undefined;
  const out: Record<string, { summary: string; value: unknown }> = {};
  if (set[kind] !== undefined) out.contract = { summary: "From the API contract", value: set[kind] };
  if (set[`${kind}2`] !== undefined) out.contract2 = { summary: "From the API contract (another case)", value: set[`${kind}2`] };
  return Object.keys(out).length ? out : undefined;
}

function safeAcceptsEmpty(schema: z.ZodType): boolean {
  try {
    return schema.safeParse({}).success;
  } catch {
    return false;
  }
}

const uuidFormat = { type: "string", format: "uuid" };

/** Builds the document from every function's route table. */
export function buildDocument(functions: readonly FunctionRoutes[], options: DocumentOptions = {}): Record<string, unknown> {
  const store = new SchemaStore();
  const paths: Record<string, Record<string, unknown>> = {};
  const usedIds = new Set<string>();
  const usedTags = new Set<string>();
  const errors = errorComponents();

  for (const fn of [...functions].sort((a, b) => a.name.localeCompare(b.name))) {
    for (const [key, def] of Object.entries(fn.table)) {
      const { method, path, params } = operationOf(key);
      if (method === "*") continue;
      let operationId = operationIdOf(method, path, fn.name);
      for (let i = 2; usedIds.has(operationId); i++) operationId = `${operationIdOf(method, path, fn.name)}${i}`;
      usedIds.add(operationId);
      const tag = tagOf(fn.name, path);
      usedTags.add(tag);
      const schemaPrefix = operationId;

      const parameters: unknown[] = params.map((p) => ({
        name: p.name,
        in: "path",
        required: true,
        schema: p.name.endsWith("Id") ? uuidFormat : { type: "string", ...(p.pattern ? { pattern: p.pattern } : {}) },
      }));
      if (def.query) {
        const query = store.convert(def.query, "input", `${schemaPrefix}_query`);
        const required = new Set((query.required as string[] | undefined) ?? []);
        for (const [name, schema] of Object.entries((query.properties ?? {}) as Record<string, JsonSchema>)) {
          const { description, ...rest } = schema;
          parameters.push({
            name,
            in: "query",
            required: required.has(name),
            ...(typeof description === "string" ? { description } : {}),
            schema: rest,
          });
        }
      }
      if (idempotentRoutes.has(key)) {
        parameters.push({ $ref: "#/components/parameters/IdempotencyKey" });
      }

      const operation: Record<string, unknown> = {
        operationId,
        tags: [tag],
        summary: `${method.toUpperCase()} ${path}`,
        security: def.auth === "none" ? [] : def.auth === "session" ? [{ bearerAuth: [] }] : [{ apiKeyAuth: [] }, { bearerAuth: [] }],
      };
      const notes: string[] = [];
      if (def.auth === "session") notes.push("Dashboard route: a signed-in session (Bearer access token) only; API keys get 403.");
      if (def.auth === "any") notes.push("An API key (paid plans) or a signed-in session.");
      if (def.profile) {
        notes.push(
          `Acts on one profile: an API key acts on its own; a session names it with \`profileId\` (${def.profile === "query" ? "query parameter" : "body field"}).`,
        );
      }
      if (def.rateLimit) notes.push(`Rate limited per profile (\`${def.rateLimit}\`).`);
      if (idempotentRoutes.has(key)) notes.push("Send an `Idempotency-Key` to make retries safe: a repeat replays the first answer.");
      if (notes.length) operation.description = notes.join("\n\n");
      if (parameters.length) operation.parameters = parameters;

      if (def.body) {
        const examples = examplesFor(method, path, "request");
        operation.requestBody = {
          required: !safeAcceptsEmpty(def.body),
          content: { "application/json": { schema: store.convert(def.body, "input", `${schemaPrefix}_body`), ...(examples ? { examples } : {}) } },
        };
      }

      const responses: Record<string, unknown> = {};
      const successHeaders: Record<string, unknown> = { "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" } };
      if (def.auth === "any") Object.assign(successHeaders, rateLimitHeaderRefs());
      if (idempotentRoutes.has(key)) successHeaders["Idempotent-Replayed"] = { $ref: "#/components/headers/Idempotent-Replayed" };
      const responseSchema = def.response ? store.convert(def.response, "output", `${schemaPrefix}_response`) : {};
      const redirect = acceptsNothing(responseSchema);
      for (const status of successStatusesOf(key, def, redirect)) {
        if (redirect) {
          responses[String(status)] = {
            description: typeof responseSchema.description === "string" ? responseSchema.description : status === 204 ? "No content" : "A redirect, no body",
            headers: status === 204 ? successHeaders : { Location: { $ref: "#/components/headers/Location" } },
          };
          continue;
        }
        const examples = examplesFor(method, path, "response");
        // A body that is not JSON names its media type on the schema (`z.string().meta({ contentMediaType })`).
        const mediaType = typeof responseSchema.contentMediaType === "string" ? responseSchema.contentMediaType : "application/json";
        responses[String(status)] = {
          description: typeof responseSchema.description === "string" ? responseSchema.description : status === 201 ? "Created" : "OK",
          headers: successHeaders,
          content: { [mediaType]: { schema: responseSchema, ...(examples ? { examples } : {}) } },
        };
      }
      for (const status of errorStatusesOf(method, def, params.length > 0)) {
        responses[String(status)] = { $ref: `#/components/responses/${errorResponseName(status)}` };
      }
      responses.default = { $ref: "#/components/responses/Error" };
      operation.responses = responses;

      paths[path] ??= {};
      paths[path][method] = operation;
    }
  }

  const webhooks: Record<string, unknown> = {};
  for (const type of webhookEventTypes) {
    usedTags.add("webhook events");
    webhooks[type] = {
      post: {
        operationId: camel(["webhook", ...type.split(/[._]/)]),
        tags: ["webhook events"],
        summary: webhookEventSummaries[type] ?? `A ${type} event`,
        description: signatureDescription,
        parameters: [
          { name: "X-Webhook-Signature", in: "header", required: true, description: "Hex HMAC-SHA256 of the raw body, keyed with the secret", schema: { type: "string", pattern: "^[0-9a-f]{64}$" } },
          { name: "webhook-id", in: "header", required: true, description: "The event's id: the same on every retry", schema: { type: "string" } },
          { name: "webhook-timestamp", in: "header", required: true, description: "Unix seconds of this attempt", schema: { type: "string", pattern: "^[0-9]+$" } },
          { name: "webhook-signature", in: "header", required: true, description: "`v1,<base64 HMAC-SHA256 of {webhook-id}.{webhook-timestamp}.{body}>`", schema: { type: "string" } },
          { name: "X-Webhook-Event", in: "header", required: true, description: "The event type", schema: { type: "string", const: type } },
        ],
        requestBody: { required: true, content: { "application/json": { schema: store.convert(webhookPayloadSchema(type), "output", camel(["webhook", ...type.split(/[._]/)])) } } },
        responses: {
          "2XX": { description: "Received: any 2xx within 15 s" },
          "410": { description: "Gone: disables the endpoint at once" },
          default: { description: "Anything else is a failure and is retried" },
        },
      },
    };
  }

  const intro = [
    "Schedule and publish posts to social networks through one API. Every path below is generated from the code",
    "that serves it, so this reference cannot drift from the API.",
    "",
    "- **Authentication**: an API key in `X-API-Key` (paid plans; one profile each), or a signed-in session's access",
    "  token in `Authorization: Bearer …` (the dashboard; name the profile with `profileId`).",
    "- **Errors**: every failure answers the error envelope `{ success: false, error, code, requestId }`.",
    "- **Rate limits**: answers to an API key carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and",
    "  `X-RateLimit-Reset`; a 429 carries `Retry-After`.",
    "- **Idempotency**: `POST /api/v1/post` honours `Idempotency-Key`.",
    "- **Webhooks**: see the *Webhooks* section for each event's payload and the two signature schemes.",
    "- **SDK**: `@amplify-scheduler/sdk` (in this repository's `sdk/`) is typed from this document.",
    "- This document: [`/api/v1/openapi.json`](/api/v1/openapi.json) and [`/api/v1/openapi.yaml`](/api/v1/openapi.yaml).",
  ];
  if (options.walkthrough) intro.push("", options.walkthrough);

  return {
    openapi: "3.1.0",
    info: {
      title: "Amplify Scheduler API",
      version: `v1${options.version ? ` (${options.version})` : ""}`,
      description: intro.join("\n"),
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    servers: [{ url: "/", description: "This deployment" }],
    tags: [...usedTags].sort().map((name) => ({ name, description: tagDescriptions[name] ?? `The ${name} endpoints` })),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    webhooks,
    components: {
      securitySchemes: {
        apiKeyAuth: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key (paid plans): acts on its own profile" },
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A signed-in session's Supabase access token (the dashboard)" },
      },
      schemas: { ...errors.schemas, ...store.components },
      responses: errors.responses,
      headers: headerComponents,
      parameters: {
        IdempotencyKey: {
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "1 to 255 printable ASCII characters; a repeat with the same key and body replays the first answer",
          schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
        },
      },
    },
  };
}
