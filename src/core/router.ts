/**
 * One route table style for everything that answers HTTP: the API (src/core/api.ts), the local emulators
 * (src/local/) and the sandbox networks (src/sandbox/). A table maps `"METHOD /path"` keys to anything (a route
 * definition, a handler); `router(table)` compiles it once and `match(method, pathname)` finds the entry, its path
 * parameters, or why there is none: no path matches (404), or the path matches only under other methods (405, with
 * the methods for an `Allow` header). What a 404 or 405 looks like on the wire is the caller's business: each
 * emulated service answers in its own error shape.
 *
 * Path syntax, segment by segment:
 * - `literal` matches itself;
 * - `:name` matches one non-empty segment, percent-decoded into `params.name` (an undecodable one matches nothing);
 * - `:name(regex)` matches one segment the regex matches in full (e.g. `:pinId(\d+)`; no capturing groups), decoded
 *   likewise;
 * - a final `*` matches the rest of the path (at least one character, slashes included), raw (not decoded), into
 *   `params["*"]`.
 * Method `*` matches every method. A trailing slash on the request path is tolerated. Entries are tried in table
 * order, so a specific key goes before a wildcard one that would also match.
 */

export type Params = Record<string, string>;

export type RouteMatch<T> =
  | { kind: "found"; key: string; value: T; params: Params }
  | { kind: "not_found" }
  | { kind: "method_not_allowed"; allow: string[] };

export interface Router<T> {
  /** The table's keys, in order. */
  readonly keys: string[];
  match(method: string, pathname: string): RouteMatch<T>;
}

interface Compiled<T> {
  key: string;
  method: string;
  regex: RegExp;
  paramNames: string[];
  /** Named parameters are decoded; the `*` rest is kept as sent. */
  decoded: boolean[];
  value: T;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function compile<T>(key: string, value: T): Compiled<T> {
  const space = key.indexOf(" ");
  const method = key.slice(0, space).toUpperCase();
  const pattern = key.slice(space + 1);
  if (space <= 0 || !pattern.startsWith("/")) throw new Error(`route key must be "METHOD /path": ${key}`);
  const paramNames: string[] = [];
  const decoded: boolean[] = [];
  const segments = pattern.split("/");
  const source = segments
    .map((segment, i) => {
      if (segment === "*" && i === segments.length - 1) {
        paramNames.push("*");
        decoded.push(false);
        return "(.+)";
      }
      const param = /^:([A-Za-z_][A-Za-z0-9_]*)(?:\((.+)\))?$/.exec(segment);
      if (!param) return escape(segment);
      paramNames.push(param[1]!);
      decoded.push(true);
      return param[2] ? `((?:${param[2]}))` : "([^/]+)";
    })
    .join("/");
  const regex = new RegExp(`^${source}/?$`);
  return { key, method, regex, paramNames, decoded, value };
}

function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function router<T>(table: Record<string, T>): Router<T> {
  const routes = Object.entries(table).map(([key, value]) => compile(key, value));
  return {
    keys: Object.keys(table),
    match(method, pathname) {
      const wanted = method.toUpperCase();
      const allowed: string[] = [];
      for (const r of routes) {
        const m = r.regex.exec(pathname);
        if (!m) continue;
        if (r.method !== "*" && r.method !== wanted) {
          allowed.push(r.method);
          continue;
        }
        const params: Params = {};
        for (const [i, name] of r.paramNames.entries()) {
          const raw = m[i + 1] ?? "";
          const value = r.decoded[i] ? decode(raw) : raw;
          if (value === undefined) return { kind: "not_found" };
          params[name] = value;
        }
        return { kind: "found", key: r.key, value: r.value, params };
      }
      return allowed.length ? { kind: "method_not_allowed", allow: [...new Set(allowed)] } : { kind: "not_found" };
    },
  };
}
