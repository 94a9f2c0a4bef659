import { randomToken, safeEqual, sha256Hex } from "../core/crypto.js";
import { env } from "../core/env.js";
import type { Platform } from "../platforms/catalog.js";

/**
 * Binds a connect flow started by a signed-in browser session to that browser: connect/init
 * sets a random nonce in a cookie and stores only its SHA-256 on the `oauth_states` row; the OAuth callback completes
 * the flow only when the browser arriving there sends the cookie back. A consent link forwarded to someone else
 * (the classic "connect your account into my profile" trick) arrives without it and connects nothing.
 *
 * The cookie is HttpOnly, SameSite=Lax (sent on the top-level GET the network redirects the browser to, never on a
 * cross-site subrequest), Secure when APP_URL is https, scoped to this platform's callback path and lives as long as
 * the state. Its name carries a tag of the state, so flows started in parallel keep their own cookies.
 */

const COOKIE_PREFIX = "amplify_connect_";

export function callbackPath(platform: Platform): string {
  return `/api/connect/callback/${platform}`;
}

/** The cookie's name for one state: a short tag of the state's hash, never the state itself. */
export function bindingCookieName(state: string): string {
  return `${COOKIE_PREFIX}${sha256Hex(`connect-cookie:${state}`).slice(0, 24)}`;
}

export interface BrowserBinding {
  /** Stored on the oauth_states row. */
  nonceHash: string;
  /** The Set-Cookie header value for connect/init's answer. */
  setCookie: string;
}

function cookieAttributes(platform: Platform, maxAgeSeconds: number): string {
  const secure = new URL(env().APP_URL).protocol === "https:" ? "; Secure" : "";
  return `Path=${callbackPath(platform)}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure}`;
}

export function newBrowserBinding(state: string, platform: Platform, maxAgeSeconds: number): BrowserBinding {
  const nonce = randomToken(32);
  return { nonceHash: sha256Hex(nonce), setCookie: `${bindingCookieName(state)}=${nonce}; ${cookieAttributes(platform, maxAgeSeconds)}` };
}

/** The Set-Cookie value that removes the binding cookie once the callback has used it. */
export function clearBindingCookie(state: string, platform: Platform): string {
  return `${bindingCookieName(state)}=; ${cookieAttributes(platform, 0)}`;
}

function cookieValue(cookieHeader: string | null, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request carries the nonce whose hash the state stored (constant-time comparison of the hashes). */
export function browserMatches(cookieHeader: string | null, state: string, nonceHash: string): boolean {
  const nonce = cookieValue(cookieHeader, bindingCookieName(state));
  if (!nonce) return false;
  return safeEqual(sha256Hex(nonce), nonceHash);
}
