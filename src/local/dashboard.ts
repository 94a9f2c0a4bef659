import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";

/**
 * The dashboard (dashboard/, a Preact app built by Vite) in the local home: `npm start` builds it into dist/ when
 * its sources changed since the last build (a stamp in dist/), and the local server serves dist/ after public/, with
 * index.html for the app's client routes and the same security headers netlify.toml sets in the cloud.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const dashboardDist = path.join(root, "dist");
const stampFile = path.join(dashboardDist, ".build-stamp");

/** The sources the bundle is made of: dashboard/ and the shared modules it imports from src/. */
const sourceRoots = ["dashboard", "src/posts/rules.ts", "src/platforms/catalog.ts", "src/media/limits.ts", "src/core/plans.ts", "src/webhooks/event-types.ts", "src/templates/render.ts", "src/recurring", "public"];

function newestMtime(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(p)) {
    if (name === "node_modules") continue;
    newest = Math.max(newest, newestMtime(path.join(p, name)));
  }
  return newest;
}

export function dashboardIsStale(): boolean {
  if (!existsSync(path.join(dashboardDist, "index.html")) || !existsSync(stampFile)) return true;
  const built = Number(readFileSync(stampFile, "utf8")) || 0;
  return sourceRoots.some((r) => newestMtime(path.join(root, r)) > built);
}

const lockDir = path.join(root, ".dashboard-build.lock");

/** One build at a time across processes (test files, `npm start`): a lock directory, taken over when it is stale. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      const age = existsSync(lockDir) ? Date.now() - statSync(lockDir).mtimeMs : 0;
      if (age > 120_000) rmSync(lockDir, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Builds the dashboard with Vite when its sources are newer than the last build; returns whether it built. The build
 * goes to a temporary directory that then replaces dist/, so a running server never serves a half-written build.
 */
export async function ensureDashboardBuilt(say: (line: string) => void = () => {}): Promise<boolean> {
  if (!dashboardIsStale()) return false;
  return withBuildLock(async () => {
    if (!dashboardIsStale()) return false; // another process built it while this one waited
    const started = Date.now();
    const stamp = Date.now();
    const tmp = `${dashboardDist}.tmp-${process.pid}`;
    const { build } = await import("vite");
    await build({ configFile: path.join(root, "dashboard/vite.config.ts"), logLevel: "warn", build: { outDir: tmp, emptyOutDir: true } });
    writeFileSync(path.join(tmp, ".build-stamp"), String(stamp));
    const old = `${dashboardDist}.old-${process.pid}`;
    if (existsSync(dashboardDist)) renameSync(dashboardDist, old);
    renameSync(tmp, dashboardDist);
    rmSync(old, { recursive: true, force: true });
    say(`dashboard built into dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return true;
  });
}

interface HeaderRule {
  regex: RegExp;
  values: Record<string, string>;
}

let rules: HeaderRule[] | undefined;

/** netlify.toml's `[[headers]]` rules (`for` with a trailing `*` splat), read once. */
function headerRules(): HeaderRule[] {
  if (rules) return rules;
  const doc = parse(readFileSync(path.join(root, "netlify.toml"), "utf8")) as { headers?: { for?: string; values?: Record<string, string> }[] };
  rules = (doc.headers ?? []).flatMap((h) => {
    if (typeof h.for !== "string" || !h.values) return [];
    const pattern = h.for.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
    const values = Object.fromEntries(Object.entries(h.values).map(([k, v]) => [k.toLowerCase(), String(v).replace(/\s+/g, " ").trim()]));
    return [{ regex: new RegExp(`^${pattern}$`), values }];
  });
  return rules;
}

/** The headers netlify.toml sets for a path (later rules add to earlier ones, as on Netlify). */
export function headersFor(pathname: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rule of headerRules()) if (rule.regex.test(pathname)) Object.assign(out, rule.values);
  return out;
}

/** Client routes of the single-page app: a GET for a page (not an API or an emulator path) gets index.html. */
export function isAppRoute(pathname: string): boolean {
  return !/^\/(api|auth|storage|qstash|sandbox|stripe|v1|_local|\.netlify)(\/|$)/.test(pathname) && !path.extname(pathname);
}

/**
 * `/invite/<token>` in the local home: the dashboard's accept page once the dashboard is built (a `<noscript>` note
 * says how to accept without JavaScript), the team feature's plain page otherwise; a malformed token is a 404 either
 * way. The token stays out of Referer headers (no-referrer).
 */
export function dashboardInviteHandler(fallback: (req: Request) => Promise<Response>): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const token = /^\/invite\/([A-Za-z0-9_-]{43})\/?$/.exec(url.pathname)?.[1];
    const index = path.join(dashboardDist, "index.html");
    if (!token || !existsSync(index) || (req.method !== "GET" && req.method !== "HEAD")) return fallback(req);
    const accept = `${url.origin}/api/v1/invitations/${token}/accept`;
    const html = readFileSync(index, "utf8").replace(
      "<noscript>",
      `<noscript>To accept without JavaScript, sign in and send POST ${accept} with your session's access token as a Bearer token. `,
    );
    return new Response(req.method === "HEAD" ? null : html, {
      headers: { ...headersFor(url.pathname), "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" },
    });
  };
}
