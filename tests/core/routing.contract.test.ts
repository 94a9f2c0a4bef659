import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { coreEndpoints } from "../../src/discovery/handlers.js";
import { compileRedirects, FUNCTION_PREFIX, readRedirects, resolveRedirect } from "../../src/local/redirects.js";

/**
 * The routing contract between the function route tables and netlify.toml: every route a function declares must be
 * reachable through the redirects (first match wins) and land on that same function, and every redirect that targets
 * a function must name one that exists. Needs no database: importing a function module only builds its route table.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const functionsDir = path.join(root, "netlify", "functions");
const tomlPath = path.join(root, "netlify.toml");

const SAMPLE_UUID = "00000000-0000-4000-8000-000000000001";

interface FunctionTable {
  name: string;
  file: string;
  routes: string[];
}

type FunctionModule = { default?: { routes?: unknown }; config?: { schedule?: string } };

/** Scheduled functions have no URL (Netlify runs them by cron), so they have no routes and need no redirect. */
const scheduled: string[] = [];

async function loadFunctions(): Promise<FunctionTable[]> {
  const files = readdirSync(functionsDir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .sort();
  const tables = await Promise.all(
    files.map(async (file) => {
      const mod = (await import(pathToFileURL(path.join(functionsDir, file)).href)) as FunctionModule;
      if (mod.config?.schedule) {
        scheduled.push(path.basename(file, ".ts"));
        return undefined;
      }
      const routes = mod.default?.routes;
      if (!Array.isArray(routes) || !routes.every((r) => typeof r === "string")) {
        throw new Error(`netlify/functions/${file}: default export has no .routes string[] (is it export default api({...})?)`);
      }
      return { name: path.basename(file, ".ts"), file: `netlify/functions/${file}`, routes: routes as string[] };
    }),
  );
  return tables.filter((t): t is FunctionTable => t !== undefined);
}

const functions = await loadFunctions();
const functionNames = new Set(functions.map((f) => f.name));
const redirects = readRedirects(tomlPath);
const compiled = compileRedirects(redirects);

/** "GET /api/v1/profiles/:profileId" → { method: "GET", samplePath: "/api/v1/profiles/<uuid>" }. */
function sampleRequest(route: string): { method: string; pattern: string; samplePath: string } {
  const [method, pattern, ...rest] = route.split(" ");
  if (!method || !pattern || rest.length) throw new Error(`route key must be "METHOD /path": ${JSON.stringify(route)}`);
  const samplePath = pattern
    .split("/")
    .map((segment) => (segment.startsWith(":") ? SAMPLE_UUID : segment))
    .join("/");
  return { method, pattern, samplePath };
}

/** The function a redirect target names: "/.netlify/functions/profiles/x" → "profiles". */
function functionOf(target: string): string | undefined {
  return target.startsWith(FUNCTION_PREFIX) ? target.slice(FUNCTION_PREFIX.length).split("/")[0] : undefined;
}

const cases = functions.flatMap((fn) => fn.routes.map((route) => ({ fn: fn.name, route })));

describe("routing: function route tables ↔ netlify.toml redirects", () => {
  it("finds function modules, each with at least one route", () => {
    expect(functions.length, "no function modules found in netlify/functions").toBeGreaterThan(0);
    for (const fn of functions) expect(fn.routes.length, `${fn.file} declares no routes`).toBeGreaterThan(0);
  });

  it("no redirect points at a scheduled function (they cannot be invoked by URL)", () => {
    const targets = redirects.map((r) => functionOf(r.to)).filter(Boolean);
    for (const name of scheduled) expect(targets, `a redirect targets scheduled function ${name}`).not.toContain(name);
  });

  it("every endpoint discovery lists is a route some function serves", () => {
    const served = new Set(functions.flatMap((fn) => fn.routes.map((r) => r.replace(/:\w+/g, ":param"))));
    const missing = coreEndpoints.filter((e) => !served.has(e.replace(/:\w+/g, ":param")));
    expect(missing, `discovery lists endpoints nobody serves: ${missing.join(", ")}`).toEqual([]);
  });

  it("discovery lists every /api/v1 route (but the OAuth callback, which only networks call), so it cannot fall behind", () => {
    const listed = new Set(coreEndpoints.map((e) => e.replace(/:\w+/g, ":param")));
    const v1 = functions.flatMap((fn) => fn.routes).filter((r) => / \/api\/v1(\/|$)/.test(r) && !r.includes("/connect/callback/"));
    const unlisted = v1.filter((r) => !listed.has(r.replace(/:\w+/g, ":param")));
    expect(unlisted, `routes missing from discovery (src/discovery/handlers.ts): ${unlisted.join(", ")}`).toEqual([]);
  });

  it("netlify.toml deploys what `npm run build` bundles from netlify/functions (the directory this test reads)", () => {
    // scripts/bundle-functions.ts writes one <name>.mjs per netlify/functions/<name>.ts into netlify/functions-bundled
    // (tests/core/bundle.contract.test.ts checks that it does); Netlify zips that directory as it is.
    const doc = parse(readFileSync(tomlPath, "utf8")) as { functions?: { directory?: string; node_bundler?: string } };
    expect(path.normalize(doc.functions?.directory ?? "")).toBe(path.normalize("netlify/functions-bundled"));
    expect(doc.functions?.node_bundler).toBe("none");
  });

  for (const { fn, route } of cases) {
    it(`${route} (function ${fn}) is rewritten to ${FUNCTION_PREFIX}${fn}`, () => {
      const { samplePath } = sampleRequest(route);
      const resolved = resolveRedirect(compiled, samplePath);
      const where = `route "${route}" of function "${fn}" (sample path ${samplePath})`;
      expect(resolved, `${where}: no netlify.toml redirect matches`).toBeDefined();
      const { rule, target } = resolved!;
      const ruleText = `first matching rule: from "${rule.from}" to "${rule.to}" status ${rule.status}`;
      expect(functionOf(target), `${where}: reaches ${target}, not function "${fn}"; ${ruleText}`).toBe(fn);
      expect(rule.status, `${where}: must be a status-200 rewrite; ${ruleText}`).toBe(200);
    });
  }

  redirects.forEach((rule, i) => {
    if (!rule.to.startsWith(FUNCTION_PREFIX)) return;
    const where = `netlify.toml redirect #${i + 1} (from "${rule.from}" to "${rule.to}")`;
    it(`${where} names an existing function and is a 200 rewrite`, () => {
      const name = functionOf(rule.to) ?? "";
      expect(
        functionNames.has(name) && existsSync(path.join(functionsDir, `${name}.ts`)),
        `${where}: function "${name}" does not exist in netlify/functions (have: ${[...functionNames].join(", ")})`,
      ).toBe(true);
      expect(rule.status, `${where}: status must be 200 (a rewrite), got ${rule.status}`).toBe(200);
    });
  });

  it("no two routes (in one function or across functions) claim the same METHOD + path", () => {
    // Parameter names do not matter to matching: GET /x/:a and GET /x/:b are the same route, and the second is dead.
    const owners = new Map<string, string[]>();
    for (const { fn, route } of cases) {
      const { method, pattern } = sampleRequest(route);
      const key = `${method} ${pattern.replace(/\/:[^/]+/g, "/:param")}`;
      owners.set(key, [...(owners.get(key) ?? []), `${fn} ("${route}")`]);
    }
    const clashes = [...owners].filter(([, who]) => who.length > 1);
    const report = clashes.map(([key, who]) => `${key} is claimed by ${who.join(" and ")}`);
    expect(report, `duplicate routes:\n  ${report.join("\n  ")}`).toEqual([]);
  });
});
