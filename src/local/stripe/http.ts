import { Reply } from "../emulator.js";
import { API_VERSION, newId, type Json } from "./state.js";

/** A JSON answer with the headers Stripe puts on every API response. */
export function stripeJson(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "request-id": newId("req"), "stripe-version": API_VERSION, ...headers },
  });
}

export type StripeErrorType = "invalid_request_error" | "api_error" | "idempotency_error";

/** A Stripe API error, rendered as Stripe renders it: `{ error: { type, message, code?, param?, doc_url? } }`. */
export function stripeError(status: number, type: StripeErrorType, message: string, code?: string, param?: string): Reply {
  const error: Json = { type, message };
  if (code) error.code = code;
  if (param) error.param = param;
  if (code) error.doc_url = `https://docs.stripe.com/error-codes/${code.replace(/_/g, "-")}`;
  return new Reply(stripeJson(status, { error }));
}

export const missing = (what: string, id: string, param?: string) =>
  stripeError(404, "invalid_request_error", `No such ${what}: '${id}'`, "resource_missing", param);

// --- the hosted pages (checkout, portal) ----------------------------------------------------------------------------

export const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

export const pounds = (pence: number) => `£${(pence / 100).toFixed(2)}`;

export function page(title: string, body: string, status = 200): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Stripe (local emulator)</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; background: #f6f9fc; color: #1a1f36; margin: 0; }
  main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 2px 8px #0001; }
  .badge { display: inline-block; background: #ffde92; color: #6a4400; padding: 0 .5rem; border-radius: 4px; font-size: 12px; }
  table { width: 100%; border-collapse: collapse; margin: 1rem 0; } td { padding: .4rem 0; border-bottom: 1px solid #e3e8ee; }
  td:last-child { text-align: right; } button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: .6rem 1.2rem;
  font-size: 15px; cursor: pointer; margin: .25rem .25rem .25rem 0; } button.secondary { background: #e3e8ee; color: #1a1f36; }
  input { font-size: 15px; padding: .5rem; width: 100%; box-sizing: border-box; margin-bottom: 1rem; } form { display: inline; }
  section { border-top: 1px solid #e3e8ee; padding-top: 1rem; margin-top: 1rem; }
</style></head>
<body><main><p class="badge">Local Stripe emulator · test mode · no real money moves</p>
${body}
</main></body></html>`;
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}
