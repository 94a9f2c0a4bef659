import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import { isIP } from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AppError } from "../core/errors.js";
import { buildJsonBodiesOnRead, errorResponse, jsonTextOf } from "../core/http.js";
import { log } from "../core/log.js";
import { dashboardDist, headersFor, isAppRoute } from "./dashboard.js";
import { incomingRequest } from "./request.js";
import { logRequest } from "./terminal-log.js";
import { compileRedirects, FUNCTION_PREFIX, readRedirects, resolveRedirect } from "./redirects.js";

export type FetchHandler = (req: Request) => Promise<Response>;

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const functionsDir = path.join(projectRoot, "netlify/functions");
const publicDir = path.join(projectRoot, "public");

type NetlifyFunction = (req: Request, context: Record<string, unknown>) => Promise<Response>;
const loaded = new Map<string, Promise<NetlifyFunction | undefined>>();

/** Imports `netlify/functions/<name>.ts` once, as Netlify would load the bundle once per warm instance. */
function loadFunction(name: string): Promise<NetlifyFunction | undefined> {
  if (!/^[a-z0-9-]+$/.test(name)) return Promise.resolve(undefined);
  let fn = loaded.get(name);
  if (!fn) {
    const file = path.join(functionsDir, `${name}.ts`);
    fn = existsSync(file)
      ? import(pathToFileURL(file).href).then((m: { default: NetlifyFunction }) => m.default)
      : Promise.resolve(undefined);
    loaded.set(name, fn);
  }
  return fn;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".yaml": "application/yaml; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
};

async function serveStatic(pathname: string, dir = publicDir): Promise<Response | undefined> {
  // Like Netlify: a directory path serves its index.html.
  const relative = `${pathname.replace(/^\/+/, "")}${pathname.endsWith("/") ? "index.html" : ""}`;
  const file = path.resolve(dir, relative);
  if (!file.startsWith(dir + path.sep) || !existsSync(file)) return undefined;
  // Like Netlify's pretty URLs: a directory without its trailing slash (/docs) redirects to it (/docs/).
  if (!pathname.endsWith("/") && existsSync(path.join(file, "index.html"))) {
    return new Response(null, { status: 301, headers: { location: `${pathname}/` } });
  }
  try {
    const body = await readFile(file);
    // The security headers netlify.toml sets for this path (src/local/dashboard.ts reads them).
    const headers = { ...headersFor(pathname), "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream" };
    return new Response(body, { headers });
  } catch {
    return undefined;
  }
}

export interface LocalServerOptions {
  /** Emulated services mounted by path prefix, e.g. `/auth/v1` → the Supabase Auth emulator. */
  mounts?: Record<string, FetchHandler>;
}

/**
 * The local home's router: emulators by prefix, then the netlify.toml redirect rules into the same function
 * modules Netlify deploys (the function sees the original public URL), then static files from public/.
 */
export function createLocalHandler(options: LocalServerOptions = {}): FetchHandler {
  const rules = compileRedirects(readRedirects(path.join(projectRoot, "netlify.toml")));
  const mounts = Object.entries(options.mounts ?? {}).sort((a, b) => b[0].length - a[0].length);
  return async (req) => {
    const url = new URL(req.url);
    for (const [prefix, handler] of mounts) {
      if (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) return handler(req);
    }
    const resolved = resolveRedirect(rules, url.pathname);
    if (resolved?.target.startsWith(FUNCTION_PREFIX)) {
      const name = resolved.target.slice(FUNCTION_PREFIX.length).split("/")[0] ?? "";
      const fn = await loadFunction(name);
      if (fn) return fn(req, { requestId: crypto.randomUUID(), site: { url: url.origin }, params: {} });
    }
    if (req.method === "GET" || req.method === "HEAD") {
      // public/ (landing, docs), then the built dashboard (dist/), then the dashboard's index.html for its client
      // routes (/app/…, /invite/<token>), as netlify.toml's last redirect does in the cloud.
      const file =
        (await serveStatic(url.pathname)) ??
        (await serveStatic(url.pathname, dashboardDist)) ??
        (isAppRoute(url.pathname) ? await serveStatic("/index.html", dashboardDist) : undefined);
      if (file) {
        if (isAppRoute(url.pathname)) for (const [k, v] of Object.entries(headersFor(url.pathname))) file.headers.set(k, v);
        return file;
      }
    }
    return errorResponse(new AppError("not_found", `Not found: ${url.pathname}`), randomUUID());
  };
}

/**
 * The host name a `Host` header names, normalised as a URL parser sees it (lower case, IPv4 shorthand such as `127.1`
 * expanded, IPv6 in brackets and compressed), without the port; undefined when it is not a valid host.
 */
export function hostNameOf(hostHeader: string | undefined): string | undefined {
  // The usual Host of a local request, answered without parsing a URL (it is on every request's path).
  const usual = hostHeader === undefined ? null : /^(localhost|127\.0\.0\.1)(?::(\d{1,5}))?$/.exec(hostHeader);
  if (usual && (usual[2] === undefined || Number(usual[2]) <= 65535)) return usual[1];
  if (!hostHeader || /[\s/?#@\\]/.test(hostHeader)) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.replace(/\.$/, "");
  } catch {
    return undefined;
  }
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1 (in the bracketed form URL hostnames use). */
export function isLoopbackName(hostname: string): boolean {
  const name = hostname.toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "[::1]") return true;
  return isIP(name) === 4 && name.startsWith("127.");
}

/** `LOCAL_ALLOWED_HOSTS` ("tunnel.example.dev, my-box.lan") → the names, lower case, ports dropped. */
export function parseAllowedHosts(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((entry) => hostNameOf(entry.trim()))
    .filter((name): name is string => Boolean(name));
}

/** Whether the local server answers a request with this `Host` header. */
export function hostAllowed(hostHeader: string | undefined, allowedHosts: readonly string[] = []): boolean {
  const name = hostNameOf(hostHeader);
  return name !== undefined && (isLoopbackName(name) || allowedHosts.includes(name));
}

/** An `Origin` on a loopback host (for emulators that reflect loopback origins in CORS, and nothing else). */
export function isLoopbackOrigin(origin: string | null): boolean {
  if (!origin) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && isLoopbackName(url.hostname);
  } catch {
    return false;
  }
}

export interface ListenOptions {
  /** Host names answered besides loopback names and addresses (the local home passes `LOCAL_ALLOWED_HOSTS`). */
  allowedHosts?: readonly string[];
}

/**
 * Serves a fetch-style handler over node:http, to requests whose `Host` is a loopback name or address, or one of
 * `allowedHosts`. Any other Host gets 403 in the error envelope: a page on another site whose DNS name was rebound to
 * 127.0.0.1 can reach the port from the developer's browser, but it sends its own name as Host.
 */
export function listen(handler: FetchHandler, port: number, host = "127.0.0.1", options: ListenOptions = {}): Promise<http.Server> {
  const allowedHosts = options.allowedHosts ?? [];
  // This server writes JSON answers from their text, so the functions in this process need not build a body stream
  // for them (src/core/http.ts).
  buildJsonBodiesOnRead();
  const server = http.createServer(async (req, res) => {
    if (!hostAllowed(req.headers.host, allowedHosts)) {
      req.resume();
      const refused = errorResponse(
        new AppError(
          "forbidden",
          "This local server answers only localhost, 127.0.0.1 and [::1] (and the names in LOCAL_ALLOWED_HOSTS)",
        ),
        randomUUID(),
      );
      res.writeHead(refused.status, Object.fromEntries(refused.headers));
      res.end(await refused.text());
      return;
    }
    const startedAt = performance.now();
    // Every answer carries X-Request-Id: the function's own, or one given here (static files, emulators, 404s).
    let requestId: string = randomUUID();
    const method = req.method ?? "GET";
    const pathname = (req.url ?? "/").split("?")[0]!;
    res.once("finish", () =>
      logRequest({ method, path: pathname, status: res.statusCode, durationMs: Math.round(performance.now() - startedAt), requestId }),
    );
    try {
      const origin = `http://${req.headers.host ?? `${host}:${port}`}`;
      const request = incomingRequest(req, origin);
      const response = await handler(request);
      const outHeaders: Record<string, string | string[]> = {};
      response.headers.forEach((value, key) => {
        if (key === "set-cookie") return;
        outHeaders[key] = value;
      });
      const cookies = response.headers.getSetCookie();
      if (cookies.length) outHeaders["set-cookie"] = cookies;
      if (typeof outHeaders["x-request-id"] === "string") requestId = outHeaders["x-request-id"];
      else outHeaders["x-request-id"] = requestId;
      await writeBody(res, response, outHeaders, method);
    } catch (error) {
      log.error("local server error", { error, requestId });
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json", "x-request-id": requestId });
      res.end(JSON.stringify({ success: false, error: "Internal server error", code: "internal_error", requestId }));
    }
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * Writes the status, headers and body. A JSON answer goes out from its text, and any other body that arrives in one
 * chunk is sent the same way: with a Content-Length, in one write, as a plain node:http server would send it (chunked
 * encoding would cost a second write, its terminating chunk, per answer). Anything longer (a file from the storage
 * emulator) streams chunk by chunk without being held in memory.
 */
async function writeBody(res: http.ServerResponse, response: Response, headers: Record<string, string | string[]>, method: string): Promise<void> {
  // Its body stream is made only if someone reads it (src/core/http.ts), so this does not.
  const text = jsonTextOf(response);
  if (text !== undefined) {
    headers["content-length"] = String(Buffer.byteLength(text));
    res.writeHead(response.status, headers);
    res.end(method === "HEAD" ? undefined : text);
    return;
  }
  if (!response.body || method === "HEAD") {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const first = await reader.read();
  const second = first.done ? first : await reader.read();
  if (second.done) {
    const body = first.done ? undefined : first.value;
    if (!("content-length" in headers) && !("transfer-encoding" in headers)) headers["content-length"] = String(body?.byteLength ?? 0);
    res.writeHead(response.status, headers);
    res.end(body);
    return;
  }
  res.writeHead(response.status, headers);
  res.write(first.value!);
  res.write(second.value);
  for (let next = await reader.read(); !next.done; next = await reader.read()) res.write(next.value);
  res.end();
}
