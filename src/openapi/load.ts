import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { stringify } from "yaml";
import type { AnyRouteDef } from "../core/api.js";
import { buildDocument, type FunctionRoutes } from "./document.js";

/**
 * Generates the document from the sources: imports every function module in netlify/functions (the files Netlify
 * deploys) and reads the route table `api([...])` attached to its default export. Used where the sources are on disk:
 * the local home, the tests and `npm run build` (which writes the result for the cloud home, whose bundled functions
 * cannot list their siblings).
 */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const functionsDir = path.join(projectRoot, "netlify/functions");

/** Function modules that failed to import (their routes are missing from the document; tests/openapi fails on any). */
export const loadFailures: { file: string; error: string }[] = [];

/**
 * Every function's route table, by file name; functions that are not `api([...])` (the sweep) have none. A module
 * that fails to import is left out and recorded in `loadFailures`, so one broken function does not take the whole
 * document (and every response check of the suite) down with it.
 */
export async function loadFunctionRoutes(dir: string = functionsDir): Promise<FunctionRoutes[]> {
  const files = readdirSync(dir).filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.endsWith(".d.ts")).sort();
  const out: FunctionRoutes[] = [];
  for (const file of files) {
    let mod: { default?: { table?: Record<string, AnyRouteDef> } };
    try {
      mod = (await import(pathToFileURL(path.join(dir, file)).href)) as typeof mod;
    } catch (error) {
      if (!loadFailures.some((f) => f.file === file)) loadFailures.push({ file, error: error instanceof Error ? error.message : String(error) });
      continue;
    }
    const table = mod.default?.table;
    if (table) out.push({ name: path.basename(file, path.extname(file)), table });
  }
  return out;
}

/** README.md's "Walkthrough" section, the document's introduction (the reference page shows it). */
export function readWalkthrough(root: string = projectRoot): string | undefined {
  const file = path.join(root, "README.md");
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const start = text.search(/^## Walkthrough/m);
  if (start < 0) return undefined;
  const rest = text.slice(start);
  const end = rest.slice(3).search(/^## /m);
  return (end < 0 ? rest : rest.slice(0, end + 3)).trim();
}

function packageVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(path.join(projectRoot, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

let cached: Promise<Record<string, unknown>> | undefined;

/** The document generated from the sources (once per process: the route tables do not change while it runs). */
export function generatedDocument(): Promise<Record<string, unknown>> {
  cached ??= loadFunctionRoutes().then((functions) => buildDocument(functions, { walkthrough: readWalkthrough(), version: packageVersion() }));
  return cached;
}

export const toYaml = (document: unknown): string => stringify(document, { aliasDuplicateObjects: false, lineWidth: 0 });
