import { z } from "zod";
import { authenticate, billingGate, type AuthMode, type Caller } from "./auth.js";
import { withClaims, type Tx } from "./db.js";
import { env } from "./env.js";
import { AppError, type FieldIssue } from "./errors.js";
import { errorResponse, jsonResponse, readBodyText, Reply, requestIdFor } from "./http.js";
import { log } from "./log.js";
import { limitApiRequest } from "./ratelimit/limit-api-request.js";

/** What a handler receives: the validated input, the caller and a database session scoped to that caller. */
export interface HandlerContext<B, Q, C extends Caller | null> {
  req: Request;
  requestId: string;
  params: Record<string, string>;
  body: B;
  query: Q;
  caller: C;
  /** Runs `fn` in one transaction as the caller (RLS applies). */
  db: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
}

type CallerFor<A extends AuthMode> = A extends "none" ? null : A extends "session" ? Extract<Caller, { kind: "session" }> : Caller;

export interface RouteDef<B = undefined, Q = undefined, A extends AuthMode = AuthMode> {
  auth: A;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  handle: (ctx: HandlerContext<B, Q, CallerFor<A>>) => Promise<unknown>;
}

/** Declares a handler; the generic parameters are inferred from its schemas. */
export function route<B = undefined, Q = undefined, A extends AuthMode = AuthMode>(def: RouteDef<B, Q, A>): RouteDef<B, Q, A> {
  return def;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RouteTable = Record<string, RouteDef<any, any, any>>;

interface CompiledRoute {
  method: string;
  pattern: string;
  regex: RegExp;
  paramNames: string[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  def: RouteDef<any, any, any>;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function compileRoutes(table: RouteTable): CompiledRoute[] {
  return Object.entries(table).map(([key, def]) => {
    const [method, pattern] = key.split(" ");
    if (!method || !pattern) throw new Error(`route key must be "METHOD /path": ${key}`);
    const paramNames: string[] = [];
    const source = pattern
      .split("/")
      .map((segment) => {
        if (!segment.startsWith(":")) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        paramNames.push(segment.slice(1));
        return "([^/]+)";
      })
      .join("/");
    return { method, pattern, regex: new RegExp(`^${source}/?$`), paramNames, def };
  });
}

/** Finds the route for a request: 404 when no path matches, 405 (with Allow) when only the method is wrong. */
export function matchRoute(routes: CompiledRoute[], method: string, pathname: string) {
  const allowed: string[] = [];
  for (const r of routes) {
    const m = r.regex.exec(pathname);
    if (!m) continue;
    if (r.method !== method) {
      allowed.push(r.method);
      continue;
    }
    const params: Record<string, string> = {};
    r.paramNames.forEach((name, i) => {
      let value = m[i + 1] ?? "";
      try {
        value = decodeURIComponent(value);
      } catch {
        throw new AppError("not_found", `No resource at ${pathname}`);
      }
      // Every `...Id` in our paths is a UUID: anything else cannot name a resource.
      if (name.endsWith("Id") && !uuidPattern.test(value)) throw new AppError("not_found", `No resource at ${pathname}`);
      params[name] = value;
    });
    return { route: r, params };
  }
  if (allowed.length) {
    throw new AppError("method_not_allowed", `${method} is not allowed on ${pathname}`, {
      headers: { allow: [...new Set(allowed)].join(", ") },
    });
  }
  throw new AppError("not_found", `No endpoint ${method} ${pathname}`);
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

/** Step 4: parse the query string and the JSON body against the route's schemas (400 naming the field). */
export async function parseInput(req: Request, def: RouteDef<unknown, unknown>): Promise<{ body: unknown; query: unknown }> {
  let query: unknown = undefined;
  if (def.query) {
    const raw = Object.fromEntries(new URL(req.url).searchParams);
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
 * Turns a route table into a Netlify Functions v2 handler: authenticate → billing gate → rate limit and quota →
 * validate → handle, each a named step; every response carries X-Request-Id, every failure the error envelope, and
 * every response to an API key its X-RateLimit-* headers.
 */
export function api(table: RouteTable) {
  const routes = compileRoutes(table);
  const handler = async (req: Request, _context?: unknown): Promise<Response> => {
    const requestId = requestIdFor(req);
    let limitHeaders: Record<string, string> = {};
    try {
      const { route: r, params } = matchRoute(routes, req.method.toUpperCase(), new URL(req.url).pathname);
      const caller = await authenticate(req, r.def.auth);
      billingGate(caller);
      limitHeaders = await limitApiRequest(caller);
      const { body, query } = await parseInput(req, r.def);
      const db = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> => {
        if (!caller) throw new Error("db() needs an authenticated route");
        return withClaims(caller.claims, fn);
      };
      const result = await r.def.handle({ req, requestId, params, body, query, caller, db });
      return toResponse(result, requestId, limitHeaders);
    } catch (error) {
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
  const auth = Object.fromEntries(Object.entries(table).map(([key, def]) => [key, def.auth as AuthMode]));
  return Object.assign(handler, { routes: Object.keys(table), auth });
}
