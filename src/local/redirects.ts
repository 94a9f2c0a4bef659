import { readFileSync } from "node:fs";
import { parse } from "smol-toml";

export interface Redirect {
  from: string;
  to: string;
  status: number;
  force: boolean;
}

interface CompiledRedirect extends Redirect {
  regex: RegExp;
  names: string[];
}

/** Reads the `[[redirects]]` rules of a netlify.toml, in order. */
export function readRedirects(tomlPath: string): Redirect[] {
  const doc = parse(readFileSync(tomlPath, "utf8")) as { redirects?: Partial<Redirect>[] };
  return (doc.redirects ?? []).map((r, i) => {
    if (typeof r.from !== "string" || typeof r.to !== "string") throw new Error(`netlify.toml redirect #${i + 1} needs from and to`);
    return { from: r.from, to: r.to, status: r.status ?? 301, force: r.force ?? false };
  });
}

/**
 * Compiles rules the way Netlify matches them: a trailing `*` is a splat (anything after the slash, possibly nothing;
 * the bare path without the slash needs its own rule, which netlify.toml always gives), `:name` matches one path
 * segment, and a trailing slash on the request is ignored.
 */
export function compileRedirects(rules: Redirect[]): CompiledRedirect[] {
  return rules.map((rule) => {
    const names: string[] = [];
    const source = rule.from
      .split("/")
      .map((segment) => {
        if (segment === "*") {
          names.push("splat");
          return "(.*)";
        }
        if (segment.startsWith(":")) {
          names.push(segment.slice(1));
          return "([^/]+)";
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    return { ...rule, names, regex: new RegExp(`^${source}/?$`) };
  });
}

/** The first rule matching `pathname`, with its `to` placeholders filled in. */
export function resolveRedirect(rules: CompiledRedirect[], pathname: string): { rule: Redirect; target: string } | undefined {
  for (const rule of rules) {
    const m = rule.regex.exec(pathname);
    if (!m) continue;
    let target = rule.to;
    rule.names.forEach((name, i) => {
      target = target.replace(`:${name}`, m[i + 1] ?? "");
    });
    return { rule, target };
  }
  return undefined;
}

export const FUNCTION_PREFIX = "/.netlify/functions/";
