/**
 * `npm run build`: bundles every function in netlify/functions with Netlify's own bundler (zip-it-and-ship-it, the
 * library Netlify's build runs) into .netlify/functions-dist, prints each zip's size, and exits non-zero when any
 * function failed to bundle. Runs fully offline.
 *
 * Note: zip-it-and-ship-it always uses its "nft" bundler for Functions v2 (`export default` handlers), whatever
 * `nodeBundler` says (only "none" overrides it). "nft" still compiles our TypeScript with esbuild (local sources are
 * bundled into one .mjs) and copies the traced node_modules beside it. We pass the same config as netlify.toml's
 * `node_bundler = "esbuild"` so this build matches Netlify's, and the table shows the bundler that actually ran.
 */
import { readdirSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { zipFunction, zipFunctions, type FunctionResult, type ZipFunctionsOptions } from "@netlify/zip-it-and-ship-it";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const FUNCTIONS_DIR = path.join(ROOT, "netlify", "functions");
export const DIST_DIR = path.join(ROOT, ".netlify", "functions-dist");

/** What Netlify would treat as a function: a source file or a directory directly inside the functions directory. */
const FUNCTION_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];

export interface BundledFunction {
  name: string;
  /** The archive written, absolute. */
  path: string;
  bytes: number;
  /** The bundler zip-it-and-ship-it actually used (and why). */
  bundler: string;
}

export interface BundleReport {
  functions: BundledFunction[];
  /** Functions that produced no archive, with the reason. Empty when the build succeeded. */
  failures: { name: string; error: string }[];
  destDir: string;
  ms: number;
}

/** The functions in `srcDir` as Netlify sees them: a source file or a directory directly inside it, by name. */
export function listFunctions(srcDir: string = FUNCTIONS_DIR): { name: string; path: string }[] {
  return readdirSync(srcDir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(srcDir, entry.name);
      if (entry.isDirectory()) return [{ name: entry.name, path: full }];
      if (entry.name.endsWith(".d.ts")) return [];
      const ext = path.extname(entry.name);
      return entry.isFile() && FUNCTION_EXTENSIONS.includes(ext) ? [{ name: path.basename(entry.name, ext), path: full }] : [];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

function toBundled(r: FunctionResult): BundledFunction {
  return {
    name: r.name,
    path: r.path,
    bytes: r.size ?? statSync(r.path).size,
    bundler: r.bundlerReason ? `${r.bundler ?? "?"} (${r.bundlerReason})` : (r.bundler ?? "?"),
  };
}

/** Bundles every function in `srcDir` into one zip each in `destDir` (created if missing, not emptied). */
export async function bundleFunctions(options: { srcDir?: string; destDir?: string } = {}): Promise<BundleReport> {
  const srcDir = path.resolve(options.srcDir ?? FUNCTIONS_DIR);
  const destDir = path.resolve(options.destDir ?? DIST_DIR);
  const expected = listFunctions(srcDir);
  const started = performance.now();
  const zipOptions = {
    basePath: ROOT,
    repositoryRoot: ROOT,
    archiveFormat: "zip",
    config: { "*": { nodeBundler: "esbuild" } },
  } satisfies ZipFunctionsOptions;
  const functions: BundledFunction[] = [];
  const failures: BundleReport["failures"] = [];
  try {
    functions.push(...(await zipFunctions(srcDir, destDir, zipOptions)).map(toBundled));
  } catch {
    // zipFunctions gives up on the first failure without saying which function failed: retry one by one so the
    // report names the broken functions and still sizes the good ones.
    for (const fn of expected) {
      try {
        const result = await zipFunction(fn.path, destDir, zipOptions);
        if (result) functions.push(toBundled(result));
      } catch (error) {
        failures.push({ name: fn.name, error: errorText(error) });
      }
    }
  }
  functions.sort((a, b) => a.name.localeCompare(b.name));
  for (const fn of expected) {
    if (!functions.some((f) => f.name === fn.name) && !failures.some((f) => f.name === fn.name)) {
      failures.push({ name: fn.name, error: "no archive produced (not recognised as a function?)" });
    }
  }
  return { functions, failures, destDir, ms: performance.now() - started };
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** The size table: one row per function (name, zip size in KiB, bundler), then the total. */
export function formatBundleTable(functions: Pick<BundledFunction, "name" | "bytes" | "bundler">[]): string {
  const rows = functions.map((f) => [f.name, kib(f.bytes), f.bundler]);
  const total = functions.reduce((sum, f) => sum + f.bytes, 0);
  const header = ["function", "zip KiB", "bundler"];
  const footer = [`total (${functions.length})`, kib(total), ""];
  const widths = header.map((h, i) => Math.max(h.length, ...[...rows, footer].map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line), rule, line(footer)].join("\n");
}

/** Prints a report: the table, then any failures. */
export function printBundleReport(report: BundleReport, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  write(`Bundled ${report.functions.length} function(s) into ${path.relative(process.cwd(), report.destDir) || "."} in ${(report.ms / 1000).toFixed(1)} s\n\n`);
  write(`${formatBundleTable(report.functions)}\n`);
  for (const f of report.failures) write(`\nFAILED ${f.name}: ${f.error}\n`);
}

async function main(): Promise<void> {
  // Start clean so zips of deleted or renamed functions do not linger.
  await rm(DIST_DIR, { recursive: true, force: true });
  const report = await bundleFunctions();
  printBundleReport(report);
  if (report.failures.length) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
