import { stripeError } from "./http.js";
import type { Json } from "./state.js";

/** Stripe's form-encoded parameters, as stripe-node sends them (`a[b][0][c]=v`), and checks on them. */

/** Parses Stripe's bracketed form encoding into nested objects; objects keyed 0..n become arrays. */
export function parseStripeForm(text: string): Json {
  const root: Json = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const head = /^[^[]+/.exec(key)?.[0];
    if (!head) continue;
    const path = [head, ...[...key.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? "")];
    let node: Json = root;
    path.forEach((segment, i) => {
      const name = segment === "" ? String(Object.keys(node).length) : segment;
      if (i === path.length - 1) node[name] = value;
      else node = (node[name] ??= {}) as Json;
    });
  }
  return arrayify(root) as Json;
}

export function arrayify(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value as Json).map(([k, v]) => [k, arrayify(v)] as const);
  const indexed = entries.length > 0 && entries.every(([k]) => /^\d+$/.test(k));
  if (!indexed) return Object.fromEntries(entries);
  return entries.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
}

export function assertKnownParams(params: Json, allowed: string[]): void {
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw stripeError(400, "invalid_request_error", `Received unknown parameter: ${key}`, "parameter_unknown", key);
    }
  }
}

export function stringParam(params: Json, name: string, required = false): string | undefined {
  const value = params[name];
  if (value === undefined || value === "") {
    if (required) throw stripeError(400, "invalid_request_error", `Missing required param: ${name}.`, "parameter_missing", name);
    return undefined;
  }
  if (typeof value !== "string") throw stripeError(400, "invalid_request_error", `Invalid string: ${name}`, "parameter_invalid_string", name);
  return value;
}

export function integerParam(value: unknown, param: string): number {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw stripeError(400, "invalid_request_error", `Invalid integer: ${String(value)}`, "parameter_invalid_integer", param);
  }
  return Number(value);
}

export function booleanParam(value: unknown, param: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw stripeError(400, "invalid_request_error", `Invalid boolean: ${String(value)}`, "parameter_invalid_boolean", param);
}

export function metadataParam(value: unknown, param: string): Record<string, string> {
  if (value === undefined || value === "") return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw stripeError(400, "invalid_request_error", `Invalid object: ${param}`, "parameter_invalid_object", param);
  }
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string" && v !== "")) as Record<string, string>;
}
