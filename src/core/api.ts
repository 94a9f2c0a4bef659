import { z } from "zod";
import { API_KEY_HEADER, authenticate, billingGate, readWithApiKey, type AuthMode, type Caller } from "./auth.js";
import type { Clock } from "./clock.js";
import { env } from "./env.js";
import { AppError, type FieldIssue } from "./errors.js";
import { errorResponse, jsonResponse, readBodyText, Reply, requestIdFor } from "./http.js";
import { log } from "./log.js";
import type { CallerDb, ServiceDb } from "./pg.js";
import { assertProfileVisible, resolveProfileId } from "./profile-scope.js";
import { apiUsageWriteAfterAnswer } from "./ratelimit/api-usage.js";
import { limitApiRequest } from "./ratelimit/limit-api-request.js";
import { rateLimitHeaders } from "./ratelimit/limiter.js";
import type { RateLimitPolicyName } from "./ratelimit/policies.js";
import { router, type Router } from "./router.js";
import { serviceDb, servicePool, services, type Services } from "./services.js";

type CallerFor<A extends AuthMode> = A extends "none" ? null : A extends "session" ? Extract<Caller, { kind: "session" }> : Caller;

/** Where a route reads the profile it acts on: `?profileId=` or the JSON body's `profileId`. */
export type ProfileFrom = "query" | "body";

/** The `:name` segments of a route key: `"GET /api/v1/posts/:postId"` → `"postId"`. */
type ParamNames<P extends string> = P extends `${string}:${infer Rest}`
  ? Rest extends `${infer Name}/${infer Tail}`
    ? Name | ParamNames<Tail>
    : Rest
  : never;

/** The path parameters of a route key, each a string (an `…Id` parameter is already checked to be a UUID). */
export type ParamsOf<K extends string> = { readonly [N in ParamNames<K>]: string };

/** What every handler receives. */
export interface BaseContext<K extends string, B, Q, A extends AuthMode> {
  req: Request;
  requestId: string;
  params: ParamsOf<K>;
  body: B;
  query: Q;
  caller: CallerFor<A>;
  /** Runs `fn` in one transaction as the caller (RLS applies). */
  db: CallerDb;
  services: Services;
  clock: Clock;
  log: Services["log"];
  /**
   * Work that goes on after the answer (an inline publish attempt still running when its time budget ran out). In the
   * cloud the function instance is kept alive until it settles (Netlify's `context.waitUntil`), so it is not frozen
   * half-way; locally the process lives on anyway.
   */
  waitUntil(work: Promise<unknown>): void;
}

/**
 * What a handler receives: the base context, `profileId` when the route declares `profile` (resolved and checked by
 * the pipeline), and `serviceDb` (the RLS-bypassing connection) only when it declares `service: true`.
 */
export type RouteContext<K extends string, B, Q, A extends AuthMode, P extends ProfileFrom | undefined, S extends boolean> =
  BaseContext<K, B, Q, A> &
    (P extends ProfileFrom ? { profileId: string } : unknown) &
    (S extends true ? { serviceDb: ServiceDb } : unknown);

/** What a handler may return: the success body (200), a `Reply` (another status or headers), or a raw `Response`. */
export type HandlerResult<R> = R | Reply<R> | Response;

/** A status a route may answer on success (errors come from `AppError`, in the error envelope). */
export type SuccessStatus = 200 | 201 | 202 | 204 | 302 | 303;

/** The success statuses a route declares (`status`; 200 when it declares none), ascending. */
export function declaredStatuses(def: Pick<AnyRouteDef, "status">): SuccessStatus[] {
  const declared = def.status === undefined ? [200 as const] : Array.isArray(def.status) ? def.status : [def.status as SuccessStatus];
  return [...new Set(declared)].sort((a, b) => a - b);
}

export interface RouteSpec<
  K extends string,
  B,
  Q,
  A extends AuthMode,
  P extends ProfileFrom | undefined,
  S extends boolean,
  R extends z.ZodType,
> {
  auth: A;
  /** Resolve `profileId` from the query or the body (`resolveProfileStep`) and hand it over as `ctx.profileId`. */
  profile?: P;
  /** A per-profile rate limit, counted once the caller is known to belong to the profile (needs `profile`). */
  rateLimit?: P extends ProfileFrom ? RateLimitPolicyName : never;
  /** The route needs the service connection (bypasses RLS): the handler receives `ctx.serviceDb`. */
  service?: S;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /**
   * Every success answer's JSON body. In the local home (tests, `npm start`) the pipeline checks each answer against
   * it, so a handler drifting from its schema fails; in the cloud the answer is not parsed again.
   */
  response: R;
  /**
   * The success status(es) this route answers: 200 when not given; a list when it answers more than one (`[200, 201]`
   * for create-or-update). The OpenAPI document lists exactly these, and the local home fails any answer whose status
   * is not declared (as it fails an answer that does not fit `response`).
   */
  status?: SuccessStatus | readonly SuccessStatus[];
  handle: (ctx: RouteContext<K, B, Q, A, P, S>) => Promise<HandlerResult<z.input<NoInfer<R>>>>;
  /**
   * For a request with an API key: the route's whole database work as one read the RLS policies alone scope, known
   * from the request's input before anything is sent (`sql`, with no parameters), and the answer its rows make. The
   * pipeline then sends the key lookup, the caller's claims and the read as one message (one round trip instead of
   * four; `readWithApiKey`), and refuses exactly as it does otherwise (the key's 401s, the billing gate, the rate
   * limit and quota) before answering. Must answer as `handle` does; sessions, and input that does not parse, go
   * through `handle`. Only on routes with `auth: "any"` and without `profile`, `rateLimit` or `service`.
   */
  apiKeyRead?: A extends "any"
    ? P extends ProfileFrom
      ? never
      : S extends true
        ? never
        : (input: { query: Q; params: ParamsOf<K> }) => { sql: string; answer(rows: unknown[]): z.input<NoInfer<R>> }
    : never;
}

/** A route definition as the pipeline runs it (the type parameters erased). */
export interface AnyRouteDef {
  auth: AuthMode;
  profile?: ProfileFrom;
  rateLimit?: RateLimitPolicyName;
  service?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  response?: z.ZodType;
  status?: SuccessStatus | readonly SuccessStatus[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  handle: (ctx: any) => Promise<unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  apiKeyRead?: (input: { query: any; params: any }) => { sql: string; answer(rows: unknown[]): unknown };
}

/** A route: its "METHOD /path" key and its definition. `api()` serves a list of them. */
export interface Route<K extends string = string> {
  readonly key: K;
  readonly def: AnyRouteDef;
}

/**
 * Declares a route: `route("GET /api/v1/posts/:postId", { auth: "any", response: postResponse, handle })`. The
 * parameters are typed from the key, `ctx.profileId` exists when `profile` is given, `ctx.serviceDb` when
 * `service: true`, and the handler's result must fit `response`.
 */
export function route<
  K extends string,
  B = undefined,
  Q = undefined,
  A extends AuthMode = AuthMode,
  P extends ProfileFrom | undefined = undefined,
  S extends boolean = false,
  R extends z.ZodType = z.ZodType,
>(key: K, spec: RouteSpec<K, B, Q, A, P, S, R>): Route<K>;
export function route(key: string, spec: unknown): Route {
  return { key, def: spec as AnyRouteDef };
}

/** The routes as key → definition; a key given twice is a mistake. */
function tableOf(routes: readonly Route[]): Record<string, AnyRouteDef> {
  const table: Record<string, AnyRouteDef> = {};
  for (const r of routes) {
    if (Object.hasOwn(table, r.key)) throw new Error(`route defined twice: ${r.key}`);
    table[r.key] = r.def;
  }
  return table;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds the route for a request (src/core/router.ts): 404 when no path matches, 405 (with Allow) when only the method is wrong. */
export function matchRoute(routes: Router<AnyRouteDef>, method: string, pathname: string) {
  const m = routes.match(method, pathname);
  if (m.kind === "method_not_allowed") {
    throw new AppError("method_not_allowed", `${method} is not allowed on ${pathname}`, { headers: { allow: m.allow.join(", ") } });
  }
  if (m.kind === "not_found") throw new AppError("not_found", `No endpoint ${method} ${pathname}`);
  // Every `...Id` in our paths is a UUID: anything else cannot name a resource.
  for (const [name, value] of Object.entries(m.params)) {
    if (name.endsWith("Id") && !uuidPattern.test(value)) throw new AppError("not_found", `No resource at ${pathname}`);
  }
  return { route: { key: m.key, def: m.value }, params: m.params };
}

function issuesOf(error: z.ZodError, prefix?: string): FieldIssue[] {
  return error.issues.map((issue) => {
    const pathParts = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const field = keys.length ? [...pathParts, keys.join(", ")].join(".") : pathParts.join(".") || "(body)";
    return { field, message: issue.code === "unrecognized_keys" ? "Unknown field" : issue.message };
  });
}

function validationError(error: z.ZodError, where: "body" | "query"): AppError {
  const details = issuesOf(error);
  const first = details[0];
  const message = first ? `Invalid ${where === "query" ? "query parameter" : "field"} '${first.field}': ${first.message}` : "Invalid request";
  return new AppError("validation_error", message, { details });
}

/** The input step: parse the query string and the JSON body against the route's schemas (400 naming the field). */
export async function parseInput(
  req: Request,
  def: Pick<AnyRouteDef, "body" | "query">,
  url: URL = new URL(req.url),
): Promise<{ body: unknown; query: unknown }> {
  let query: unknown = undefined;
  if (def.query) {
    const raw = Object.fromEntries(url.searchParams);
    const parsed = def.query.safeParse(raw);
    if (!parsed.success) throw validationError(parsed.error, "query");
    query = parsed.data;
  }
  let body: unknown = undefined;
  if (def.body) {
    const text = await readBodyText(req, env().MAX_BODY_BYTES);
    let json: unknown = {};
    if (text.trim() !== "") {
      const type = req.headers.get("content-type") ?? "application/json";
      if (!/^application\/(.+\+)?json\b/i.test(type)) {
        throw new AppError("unsupported_media_type", "Send the request body as JSON with Content-Type: application/json");
      }
      try {
        json = JSON.parse(text);
      } catch {
        throw new AppError("invalid_json", "Request body is not valid JSON");
      }
    }
    const parsed = def.body.safeParse(json);
    if (!parsed.success) throw validationError(parsed.error, "body");
    body = parsed.data;
  }
  return { body, query };
}

/** Postgres errors that can only come from what the caller sent, mapped so bad input never becomes a 500. */
function fromPostgres(error: unknown): AppError | undefined {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string") return undefined;
  switch (code) {
    case "42501": // insufficient_privilege: an RLS check refused the row
      return new AppError("not_found", "Resource not found or not accessible with these credentials");
    case "23505":
      return new AppError("conflict", "A resource with these values already exists");
    case "23503":
      return new AppError("not_found", "A referenced resource does not exist");
    case "22P02":
    case "22007":
    case "22008":
    case "23514":
      return new AppError("bad_request", "A value in the request is out of range or malformed");
    default:
      return undefined;
  }
}

/** The request's path without its query string, for logs. */
export function pathOf(req: Request): string {
  try {
    return new URL(req.url).pathname;
  } catch {
    return "(unparseable URL)";
  }
}

/**
 * The profile step, for routes that declare `profile`: an API key acts on its own profile (another `profileId` answers
 * 404, as any resource it cannot see); a session must name one (400 naming the field) that it can see (404 otherwise,
 * checked as the caller, so RLS decides). It runs before any per-profile rate limit, so strangers never spend a
 * profile's budget. An API key's membership was checked by its lookup in this same request.
 */
export async function resolveProfileStep(
  from: ProfileFrom,
  caller: Caller,
  input: { body: unknown; query: unknown },
  db: CallerDb,
): Promise<string> {
  const source = (from === "query" ? input.query : input.body) as { profileId?: unknown } | undefined;
  const given = typeof source?.profileId === "string" ? source.profileId : undefined;
  const profileId = resolveProfileId(caller, given);
  if (caller.kind === "session") await db((tx) => assertProfileVisible(tx, profileId));
  return profileId;
}

/**
 * The response check: in the local home, every success answer must have a status the route declares (`status`) and
 * fit the route's response schema (a raw `Response` is checked for its status only).
 */
function checkResponse(def: AnyRouteDef, key: string, result: unknown): void {
  if (env().AMPLIFY_HOME !== "local") return;
  const status = result instanceof Response || result instanceof Reply ? result.status : 200;
  const declared: number[] = declaredStatuses(def);
  if (!declared.includes(status)) {
    throw new Error(`${key} answered ${status}, a status it does not declare (status: ${declared.join(", ")}); declare it on the route`);
  }
  if (!def.response || result instanceof Response) return;
  const body = result instanceof Reply ? result.body : result;
  const parsed = def.response.safeParse(body);
  if (!parsed.success) {
    throw new Error(`The answer of ${key} does not fit its response schema: ${JSON.stringify(parsed.error.issues.slice(0, 5))}`);
  }
}

function toResponse(result: unknown, requestId: string, limitHeaders: Record<string, string>): Response {
  if (result instanceof Response) {
    for (const [name, value] of Object.entries(limitHeaders)) result.headers.set(name, value);
    result.headers.set("x-request-id", requestId);
    return result;
  }
  const reply = result instanceof Reply ? result : new Reply(200, result);
  return jsonResponse(reply.status, reply.body, { ...limitHeaders, ...reply.headers, "x-request-id": requestId });
}

/**
 * A route's `apiKeyRead` for this request's input, or undefined when the input does not parse (or names no page the
 * API gave): the request then goes through the usual steps, which authenticate first, so a bad key is a 401 whatever
 * the input.
 */
async function readFromInput(
  def: AnyRouteDef,
  req: Request,
  url: URL,
  params: Record<string, string>,
): Promise<{ sql: string; answer(rows: unknown[]): unknown } | undefined> {
  try {
    const { query } = await parseInput(req, { query: def.query }, url);
    return def.apiKeyRead!({ query, params });
  } catch (error) {
    if (error instanceof AppError) return undefined;
    throw error;
  }
}

/**
 * X-RateLimit-* for an API-key request refused before the metering step: a 404 or 405 (no route takes the path or the
 * method, found before anyone is authenticated, so the key is looked up here) or the billing gate's 402 (a key
 * without a paid plan). The request
 * counts against the key's hourly limit like any other; an unknown key or a limiter failure gets no headers.
 */
const refusedBeforeMetering = new Set(["method_not_allowed", "not_found", "subscription_required"]);

async function refusedKeyLimitHeaders(req: Request, known: Caller | null): Promise<Record<string, string>> {
  try {
    const s = services();
    const caller = known ?? (req.headers.has("x-api-key") ? await authenticate(req, "any", s) : null);
    if (caller?.kind !== "apiKey") return {};
    if (caller.metering && caller.paidActive) return await limitApiRequest(caller, s, servicePool(s.env));
    // On the Postgres limiter the key lookup has already counted it.
    return rateLimitHeaders(caller.metering?.rateLimit ?? (await s.limiter.limit("api_requests", caller.keyId)));
  } catch {
    return {};
  }
}

/**
 * Turns routes into a Netlify Functions v2 handler: authenticate → billing gate → API-key rate limit and quota →
 * validate input → profile → per-profile rate limit → handle → (local home) check the answer, each a named step;
 * every response carries X-Request-Id, every failure the error envelope, and every response to an API key its
 * X-RateLimit-* headers.
 */
/** Netlify's `context.waitUntil` (Functions v2), where the runtime offers it. */
function keepAlive(context: unknown, work: Promise<unknown>): void {
  const waitUntil = (context as { waitUntil?: (promise: Promise<unknown>) => void } | undefined)?.waitUntil;
  if (typeof waitUntil === "function") waitUntil.call(context, work);
}

export function api(list: readonly Route[]) {
  const table = tableOf(list);
  const routes = router(table);
  const handler = async (req: Request, context?: unknown): Promise<Response> => {
    const after: Promise<unknown>[] = [];
    const response = await answer(req, (work) => after.push(work));
    // The cloud may freeze this instance once it has answered: its API usage counts are written after the answer,
    // and the handler's unfinished work is waited for.
    const usage = apiUsageWriteAfterAnswer();
    if (usage) after.push(usage);
    if (after.length) keepAlive(context, Promise.allSettled(after));
    return response;
  };
  const answer = async (req: Request, waitUntil: (work: Promise<unknown>) => void): Promise<Response> => {
    const requestId = requestIdFor(req);
    let limitHeaders: Record<string, string> = {};
    let caller: Caller | null = null;
    try {
      const url = new URL(req.url);
      const { route: r, params } = matchRoute(routes, req.method.toUpperCase(), url.pathname);
      const def = r.def;
      const s = services();
      // Only routes open to API keys (`auth: "any"`) and free of the profile, rate-limit and service steps.
      const oneMessage = def.apiKeyRead && def.auth === "any" && !def.profile && !def.rateLimit && !def.service;
      const apiKey = oneMessage && req.headers.get(API_KEY_HEADER);
      if (apiKey) {
        const read = await readFromInput(def, req, url, params);
        if (read) {
          const done = await readWithApiKey(apiKey.trim(), read.sql, s);
          caller = done.caller;
          billingGate(caller);
          limitHeaders = await limitApiRequest(caller, s, servicePool(s.env));
          const result = read.answer(done.rows);
          checkResponse(def, r.key, result);
          return toResponse(result, requestId, limitHeaders);
        }
      }
      caller = await authenticate(req, def.auth, s);
      billingGate(caller);
      limitHeaders = await limitApiRequest(caller, s, servicePool(s.env));
      const { body, query } = await parseInput(req, def, url);
      const db: CallerDb = (fn) => {
        if (!caller) throw new Error("db() needs an authenticated route");
        return s.db.as(caller.claims, fn);
      };
      const ctx: Record<string, unknown> = { req, requestId, params, body, query, caller, db, services: s, clock: s.clock, log: s.log, waitUntil };
      if (def.profile) {
        if (!caller) throw new Error(`${r.key}: a profile route needs an authenticated caller`);
        ctx.profileId = await resolveProfileStep(def.profile, caller, { body, query }, db);
      }
      if (def.rateLimit) {
        if (typeof ctx.profileId !== "string") throw new Error(`${r.key}: rateLimit needs profile`);
        await s.limiter.enforce(def.rateLimit, ctx.profileId);
      }
      if (def.service) ctx.serviceDb = serviceDb();
      const result = await def.handle(ctx);
      checkResponse(def, r.key, result);
      return toResponse(result, requestId, limitHeaders);
    } catch (error) {
      if (error instanceof AppError && !Object.keys(limitHeaders).length && refusedBeforeMetering.has(error.code)) {
        limitHeaders = await refusedKeyLimitHeaders(req, caller);
      }
      if (error instanceof AppError) return errorResponse(error, requestId, limitHeaders);
      const mapped = fromPostgres(error);
      if (mapped) return errorResponse(mapped, requestId, limitHeaders);
      // The path only: a query string can carry secrets (an OAuth callback's `code` and `state`).
      log.error("unhandled error", { requestId, method: req.method, path: pathOf(req), error });
      return errorResponse(new AppError("internal_error", "Internal server error"), requestId, limitHeaders);
    }
  };
  /**
   * The table's "METHOD /path" keys and each one's auth mode, so tests can check every route is reachable through
   * netlify.toml and every authenticated route is in the security suite.
   */
  const auth = Object.fromEntries(Object.entries(table).map(([key, def]) => [key, def.auth]));
  // `table` (every key's definition) is what src/openapi generates the OpenAPI document from.
  return Object.assign(handler, { routes: Object.keys(table), auth, table: table as Readonly<Record<string, AnyRouteDef>> });
}
