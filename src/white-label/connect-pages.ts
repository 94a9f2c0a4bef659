import { connectScopes } from "../analytics/model.js";
import { env } from "../core/env.js";
import { log } from "../core/log.js";
import { serviceDb, services } from "../core/services.js";
import { pkceChallenge } from "../platforms/oauth.js";
import { catalog, platformIds, type Platform } from "../platforms/catalog.js";
import { adapterForFlow } from "./apps.js";
import { brandForProfileTx, defaultBrand, type Brand } from "./branding.js";

/**
 * The hosted connect pages, in the profile's branding (its billing owner's white-label branding, else ours):
 *
 * - `GET /connect/<platform>/handoff?state=<state>`: the consent hand-off. Says which network account is being
 *   connected to whom, and links on to the network's consent page (the same URL connect/init answered, rebuilt from
 *   the flow's stored state: the client the flow started with, and the PKCE challenge of its stored verifier). An
 *   integrator may send the user here instead of straight to connect/init's `url`: `state` is that URL's `state`.
 * - `GET /connect/<platform>/done`: a return page. A returnUrl on APP_URL's origin is always allowed, so
 *   `APP_URL/connect/<platform>/done?profileId=<id>` can be a flow's returnUrl; the callback appends `connected` and
 *   `connectionId`, or `error`, and the page says how it ended.
 *
 * A page that cannot tell whose flow it is (an unknown or used state) names no product at all. Both are plain HTML
 * without scripts, served by the white-label function (netlify.toml `/connect/*`).
 */

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a path is one of the hosted connect pages. */
export function isConnectPagePath(pathname: string): boolean {
  return /^\/connect\/[a-z]+\/(handoff|done)\/?$/.test(pathname);
}

/** The text colour readable on an accent colour (WCAG relative luminance). */
function inkOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return luminance > 0.179 ? "#111111" : "#ffffff";
}

function page(brand: Brand | null, title: string, body: string, status = 200): Response {
  const accent = brand?.accentColor ?? defaultBrand.accentColor;
  const name = brand?.displayName;
  const logo = brand?.logoUrl ? `<img src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(name ?? "")}" class="logo">` : "";
  const header = name ? `<header>${logo}<p class="brand">${escapeHtml(name)}</p></header>` : "";
  const support = brand?.supportUrl ? `<p class="help"><a href="${escapeHtml(brand.supportUrl)}">Help</a></p>` : "";
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(name ? `${title} · ${name}` : title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}
header{display:flex;align-items:center;gap:.75rem}.logo{max-height:40px;max-width:160px}.brand{font-weight:600;margin:0}
.button{display:inline-block;padding:.6rem 1.1rem;border-radius:6px;background:${accent};color:${inkOn(accent)};text-decoration:none;font-weight:600}
a{color:#1f4fd1}.help{margin-top:2rem}</style></head>
<body>${header}<main><h1>${escapeHtml(title)}</h1>
${body}${support}</main></body></html>`;
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      "content-security-policy": "default-src 'none'; img-src https: http:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
    },
  });
}

function platformOf(pathname: string): Platform | undefined {
  const name = /^\/connect\/([a-z]+)\//.exec(pathname)?.[1] ?? "";
  return (platformIds as readonly string[]).includes(name) ? (name as Platform) : undefined;
}

interface FlowRow {
  profile_id: string;
  code_verifier: string;
  redirect_uri: string;
  oauth_app_id: string | null;
}

async function handoff(platform: Platform, state: string): Promise<Response> {
  const network = catalog[platform].displayName;
  const found = await serviceDb()(async (tx) => {
    const [flow] = await tx<FlowRow[]>`
      select profile_id, code_verifier, redirect_uri, oauth_app_id from public.oauth_states
      where state = ${state} and platform = ${platform} and used_at is null and expires_at > now()`;
    if (!flow) return undefined;
    const brand = await brandForProfileTx(tx, flow.profile_id);
    const adapter = await adapterForFlow(tx, services().platforms, { profileId: flow.profile_id, platform, appId: flow.oauth_app_id });
    return { flow, brand, adapter };
  });
  if (!found) {
    return page(null, "This link has expired", "<p>This connection link has expired or was already used. Start connecting again from the app you came from.</p>", 404);
  }
  const consent = found.adapter.authorizeUrl({
    state,
    codeChallenge: pkceChallenge(found.flow.code_verifier),
    redirectUri: found.flow.redirect_uri,
    scopes: connectScopes(platform),
  });
  const who = escapeHtml(found.brand.displayName);
  return page(
    found.brand,
    `Connect your ${network} account`,
    `<p>${who} will publish to your ${escapeHtml(network)} account on your behalf. ${escapeHtml(network)} asks you to sign in and approve this next.</p>
<p><a class="button" href="${escapeHtml(consent)}">Continue to ${escapeHtml(network)}</a></p>`,
  );
}

async function done(platform: Platform, q: URLSearchParams): Promise<Response> {
  const network = catalog[platform].displayName;
  const connectionId = q.get("connectionId") ?? "";
  const profileId = q.get("profileId") ?? "";
  const brand = await serviceDb()(async (tx) => {
    if (uuidPattern.test(connectionId)) {
      const [row] = await tx<{ profile_id: string }[]>`select profile_id from public.connections where id = ${connectionId}`;
      if (row) return brandForProfileTx(tx, row.profile_id);
    }
    if (uuidPattern.test(profileId)) {
      const [row] = await tx`select 1 from public.profiles where id = ${profileId}`;
      if (row) return brandForProfileTx(tx, profileId);
    }
    return null;
  });
  const error = q.get("error");
  if (error || q.get("connected") !== platform) {
    const reason = error && /^[a-z0-9_.-]{1,64}$/i.test(error) ? ` (${escapeHtml(error)})` : "";
    return page(brand, `${network} was not connected`, `<p>The connection was not completed${reason}. You can close this window and try again.</p>`);
  }
  const to = brand ? ` to ${escapeHtml(brand.displayName)}` : "";
  return page(brand, `${network} connected`, `<p>Your ${escapeHtml(network)} account is connected${to}. You can close this window.</p>`);
}

/** Serves a hosted connect page (GET or HEAD only). */
export async function connectPage(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response(null, { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const platform = platformOf(url.pathname);
  if (!platform) return page(null, "Not found", "<p>There is no such page.</p>", 404);
  try {
    const res = url.pathname.replace(/\/$/, "").endsWith("/handoff")
      ? await handoff(platform, url.searchParams.get("state") ?? "")
      : await done(platform, url.searchParams);
    return req.method === "HEAD" ? new Response(null, { status: res.status, headers: res.headers }) : res;
  } catch (error) {
    log.error("connect page failed", { error, path: url.pathname });
    return page(null, "Something went wrong", "<p>Please try again in a moment.</p>", 500);
  }
}

/** The hosted pages' base URL for a platform (for docs and tests). */
export const connectPageUrl = (platform: Platform, page: "handoff" | "done") => `${env().APP_URL.replace(/\/$/, "")}/connect/${platform}/${page}`;
