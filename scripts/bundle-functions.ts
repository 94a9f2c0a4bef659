/**
 * `npm run build` (its functions step): bundles every function in netlify/functions ourselves with esbuild (one
 * tree-shaken, minified ESM file per function, every dependency inlined) into netlify/functions-bundled, the directory
 * netlify.toml hands Netlify with `node_bundler = "none"`. Then it zips each bundle with Netlify's own
 * zip-it-and-ship-it (the library Netlify's build runs, with the same "none" bundler) to show what is deployed, and
 * imports each bundle in a fresh Node process to time a cold start. Prints one row per function and exits non-zero
 * when a function failed to bundle, zip or import. Runs fully offline.
 *
 * Why not Netlify's bundler: zip-it-and-ship-it always uses its "nft" bundler for Functions v2 (`export default`
 * handlers) whatever `node_bundler` says, except "none"; nft copies whole node_modules packages beside the compiled
 * function (1–2 MB zipped each), and a cold start then loads them file by file.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile, type Plugin } from "esbuild";
import { zipFunctions, type ZipFunctionsOptions } from "@netlify/zip-it-and-ship-it";
import { embedOpenapiDocument } from "../src/openapi/embed.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const FUNCTIONS_DIR = path.join(ROOT, "netlify", "functions");
/** What Netlify deploys: netlify.toml's `[functions] directory`. */
export const BUNDLED_DIR = path.join(ROOT, "netlify", "functions-bundled");
/** The zips, as Netlify would upload them (for the sizes; Netlify's build makes its own from BUNDLED_DIR). */
export const DIST_DIR = path.join(ROOT, ".netlify", "functions-dist");

/** Where the lazily loaded chunks go, inside the bundled directory (netlify.toml includes them in every zip). */
export const CHUNKS = "chunks";

/**
 * zod's `z.locales` namespace pulls every language's error messages (~260 KB) into each bundle although only English
 * is ever used (zod sets it as the default itself, from its own en.js). The bundles get a locales module holding
 * English alone; anything else asking for another locale would find it missing, and nothing here does.
 */
export const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: path.join(path.dirname(args.importer), "..", "locales", "en.js"), namespace: "zod-locales" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: path.dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * Our sources write `import { z } from "zod"`: zod's index module re-exports `z` as a namespace *value*, and a bundler
 * must then keep every export of it (JSON Schema conversion both ways, every schema kind, every check), ~200 KB of
 * minified code parsed by every cold start. Imported as a namespace (`import * as z`) straight from zod's classic
 * module instead, each `z.object`/`z.string`… is a static property access esbuild resolves to the one export, and
 * tree-shaking keeps only what the function uses (~90 KB for a typical function). The rewrite only touches that one
 * import statement of our own .ts files, the build's copy, never the sources; `import type` lines are left alone.
 */
const zodClassicModule = path.join(ROOT, "node_modules", "zod", "v4", "classic", "external.js");
export const zodTreeShaken: Plugin = {
  name: "zod-tree-shaken",
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$|[\\/]netlify[\\/]functions[\\/][^\\/]+\.ts$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const rewritten = source.replace(/^import \{ z \} from "zod";$/m, `import * as z from ${JSON.stringify(zodClassicModule)};`);
      return rewritten === source ? undefined : { contents: rewritten, loader: "ts", resolveDir: path.dirname(args.path) };
    });
  },
};

/**
 * date-fns-tz (used by post and template schedules) builds an `Intl.DateTimeFormat` for America/New_York when its
 * module loads, to probe whether the runtime supports `hourCycle`: that loads ICU's time-zone data, ~35 ms of CPU in
 * every cold start that merely imports the schedule code. Every Node we run on supports `hourCycle` (Node 12+), so the
 * build's copy answers the probe with `true` and ICU loads on the first real conversion instead. The sources are
 * untouched; if an upgrade of date-fns-tz changes that code, the build fails here rather than silently keeping the probe.
 */
export const dateFnsTzNoProbe: Plugin = {
  name: "date-fns-tz-no-probe",
  setup(b) {
    b.onLoad({ filter: /[\\/]date-fns-tz[\\/]dist[\\/]esm[\\/]_lib[\\/]tzTokenizeDate[\\/]index\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const probe = /const testDateFormatted = new Intl\.DateTimeFormat\([\s\S]*?\)\.format\([^)]*\)\);\s*const hourCycleSupported = [^;]*;/;
      if (!probe.test(source)) throw new Error(`date-fns-tz changed: the hourCycle probe was not found in ${args.path} (scripts/bundle-functions.ts)`);
      return { contents: source.replace(probe, "const hourCycleSupported = true;"), loader: "js" };
    });
  },
};

/** Targets the build reports against (issue 15): a deployed zip and a cold import of one function. */
export const TARGET_ZIP_BYTES = 1024 * 1024;
export const TARGET_COLD_IMPORT_MS = 150;

/** What Netlify would treat as a function: a source file directly inside the functions directory. */
const FUNCTION_EXTENSIONS = [".ts", ".mts", ".js", ".mjs"];

export interface BundledFunction {
  name: string;
  /** The function's bundle (`<name>.mjs`), absolute. */
  bundle: string;
  /** What a cold start loads: the bundle and the chunks it imports statically (not the lazily loaded ones). */
  bundleBytes: number;
  /** The zip zip-it-and-ship-it made of it, absolute. */
  path: string;
  bytes: number;
  /** The bundler zip-it-and-ship-it used: "none" (it took our bundle as it is). */
  bundler: string;
  /** In-source config zip-it-and-ship-it read from the bundle (a scheduled function's cron). */
  schedule?: string;
  /** ms to `import()` the bundle in a fresh Node process (undefined when not measured). */
  coldImportMs?: number;
  /** CPU ms of that import (same process). */
  coldImportCpuMs?: number;
  /** What a cold start loads, by package ("(our code)" for ours), largest first: where the bytes come from. */
  largestInputs: { path: string; bytes: number }[];
  /** The source files (ours and packages') a cold start loads, as esbuild names them (`src/…`, `node_modules/…`). */
  inputsAtStart: string[];
}

export interface BundleReport {
  functions: BundledFunction[];
  /** Functions that produced no bundle or zip, or failed to import, with the reason. Empty when the build succeeded. */
  failures: { name: string; error: string }[];
  outDir: string;
  destDir: string;
  ms: number;
}

/** The functions in `srcDir` as Netlify sees them: a source file directly inside it, by name. */
export function listFunctions(srcDir: string = FUNCTIONS_DIR): { name: string; path: string }[] {
  return readdirSync(srcDir, { withFileTypes: true })
    .flatMap((entry) => {
      if (!entry.isFile() || entry.name.endsWith(".d.ts")) return [];
      const ext = path.extname(entry.name);
      return FUNCTION_EXTENSIONS.includes(ext) ? [{ name: path.basename(entry.name, ext), path: path.join(srcDir, entry.name) }] : [];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** ESM bundles of CommonJS packages still call `require` for Node's built-ins: give them one. */
const requireShim = `import { createRequire as __amplifyCreateRequire } from "node:module"; const require = __amplifyCreateRequire(import.meta.url);`;

/** The files a cold start of `entry` loads: the entry and every chunk it imports statically, transitively. */
function loadedAtStart(metafile: Metafile, entry: string): string[] {
  const key = (file: string) => path.resolve(ROOT, file);
  const outputs = new Map(Object.entries(metafile.outputs).map(([file, out]) => [key(file), out]));
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file) || !outputs.has(file)) return;
    seen.add(file);
    for (const imported of outputs.get(file)!.imports) {
      if (imported.kind === "import-statement" && !imported.external) visit(key(imported.path));
    }
  };
  visit(entry);
  return [...seen];
}

/** The input files in `files` (outputs), sorted. */
function inputsOf(metafile: Metafile, files: string[]): string[] {
  const inputs = new Set<string>();
  for (const [file, out] of Object.entries(metafile.outputs)) {
    if (files.includes(path.resolve(ROOT, file))) for (const input of Object.keys(out.inputs)) inputs.add(input);
  }
  return [...inputs].sort();
}

/** The packages (or our code) in what a cold start of `entry` loads, largest first. */
function largestInputs(metafile: Metafile, files: string[]): { path: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const [file, out] of Object.entries(metafile.outputs)) {
    if (!files.includes(path.resolve(ROOT, file))) continue;
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match ? match[1]! : "(our code)";
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage].map(([p, bytes]) => ({ path: p, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Imports `file` in a fresh Node process and answers how long the `import()` took (the median of `runs` processes)
 * and what the module exports, so a bundle that cannot load fails the build.
 */
export interface ColdImport {
  /** Wall time of the `import()`. */
  ms: number;
  /** CPU time the process spent on it (on a busy machine the wall time waits for a core; this does not). */
  cpuMs: number;
  defaultType: string;
  routes: number;
}

export async function coldImport(file: string, runs = 3): Promise<ColdImport> {
  const script = `
    const cpu = process.cpuUsage();
    const t = performance.now();
    const m = await import(${JSON.stringify(pathToFileURL(file).href)});
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, defaultType: typeof m.default, routes: Array.isArray(m.default?.routes) ? m.default.routes.length : 0 }));`;
  const samples: ColdImport[] = [];
  for (let i = 0; i < runs; i++) {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      // The cloud's environment is not needed to load a function: nothing reads it at import time.
      env: { PATH: process.env.PATH, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    if (code !== 0) throw new Error(`importing ${path.basename(file)} failed (exit ${code}): ${err.trim().split("\n").slice(-5).join(" ")}`);
    samples.push(JSON.parse(out) as ColdImport);
  }
  samples.sort((a, b) => a.ms - b.ms);
  return samples[Math.floor(samples.length / 2)]!;
}

/**
 * Bundles every function in `srcDir` into `outDir` (emptied first), zips each into `destDir` (emptied first) and,
 * unless `measure` is false, times a cold import of each bundle.
 */
export async function bundleFunctions(
  options: { srcDir?: string; outDir?: string; destDir?: string; measure?: boolean } = {},
): Promise<BundleReport> {
  const srcDir = path.resolve(options.srcDir ?? FUNCTIONS_DIR);
  const outDir = path.resolve(options.outDir ?? BUNDLED_DIR);
  const destDir = path.resolve(options.destDir ?? DIST_DIR);
  const expected = listFunctions(srcDir);
  const started = performance.now();
  const failures: BundleReport["failures"] = [];
  await rm(outDir, { recursive: true, force: true });
  await rm(destDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await mkdir(destDir, { recursive: true });

  // One esbuild run for all functions with code splitting: each function is one ESM file (`<name>.mjs`) holding or
  // statically importing what it needs at start, and what is imported only when used (stripe-node for billing,
  // supabase-js for media storage, the Upstash SDKs for the cloud limiter) lands in chunks of its own under chunks/,
  // loaded on first use. Every zip carries chunks/ (netlify.toml `included_files`); a cold start reads only its part.
  const built = new Map<string, { bundle: string }>();
  let metafile: Metafile | undefined;
  try {
    const result = await build({
      entryPoints: Object.fromEntries(expected.map((fn) => [fn.name, fn.path])),
      outdir: outDir,
      outExtension: { ".js": ".mjs" },
      entryNames: "[name]",
      chunkNames: `${CHUNKS}/[name]-[hash]`,
      splitting: true,
      bundle: true,
      format: "esm",
      platform: "node",
      // What runs the bundles: Netlify's Node 22 (netlify.toml NODE_VERSION). The local home never loads them (it
      // imports the sources); the build's cold-import check runs them on the build machine's Node (20.19+ or 22).
      target: "node22",
      minify: true,
      treeShaking: true,
      legalComments: "none",
      // Packages' ESM builds first: they tree-shake; CommonJS builds do not.
      mainFields: ["module", "main"],
      conditions: ["node", "import", "module"],
      banner: { js: requireShim },
      // The openapi function serves the document generated from these sources, built into its bundle (src/openapi/embed.ts).
      plugins: [zodEnglishOnly, zodTreeShaken, dateFnsTzNoProbe, embedOpenapiDocument()],
      metafile: true,
      logLevel: "silent",
      absWorkingDir: ROOT,
    });
    metafile = result.metafile;
    // For looking into what a bundle holds (esbuild's analyser at https://esbuild.github.io/analyze/ reads it).
    await writeFile(path.join(destDir, "metafile.json"), JSON.stringify(metafile));
    for (const fn of expected) built.set(fn.name, { bundle: path.join(outDir, `${fn.name}.mjs`) });
  } catch (error) {
    // Name the functions esbuild's errors point into, when it says; otherwise every function failed.
    const text = errorText(error);
    for (const fn of expected) failures.push({ name: fn.name, error: text });
  }

  // The same settings netlify.toml gives Netlify: our bundles as they are, plus the lazily loaded chunks.
  const zipOptions = {
    basePath: outDir,
    repositoryRoot: ROOT,
    archiveFormat: "zip",
    config: { "*": { nodeBundler: "none", includedFiles: [`${CHUNKS}/**`], includedFilesBasePath: outDir } },
  } satisfies ZipFunctionsOptions;
  const functions: BundledFunction[] = [];
  let zipped: Awaited<ReturnType<typeof zipFunctions>> = [];
  try {
    zipped = await zipFunctions(outDir, destDir, zipOptions);
  } catch (error) {
    for (const name of built.keys()) failures.push({ name, error: `zip-it-and-ship-it: ${errorText(error)}` });
  }
  for (const [name, { bundle }] of built) {
    const zip = zipped.find((z) => z.name === name);
    if (!zip) {
      if (zipped.length) failures.push({ name, error: "no archive produced (not recognised as a function?)" });
      continue;
    }
    const atStart = metafile ? loadedAtStart(metafile, bundle) : [bundle];
    const entry: BundledFunction = {
      name,
      bundle,
      bundleBytes: atStart.reduce((sum, file) => sum + statSync(file).size, 0),
      path: zip.path,
      bytes: zip.size ?? statSync(zip.path).size,
      bundler: zip.bundler ?? "?",
      schedule: zip.schedule,
      largestInputs: metafile ? largestInputs(metafile, atStart) : [],
      inputsAtStart: metafile ? inputsOf(metafile, atStart) : [],
    };
    if (options.measure !== false) {
      try {
        const measured = await coldImport(bundle);
        if (measured.defaultType !== "function") throw new Error(`its default export is a ${measured.defaultType}, not a function`);
        entry.coldImportMs = measured.ms;
        entry.coldImportCpuMs = measured.cpuMs;
      } catch (error) {
        failures.push({ name, error: errorText(error) });
      }
    }
    functions.push(entry);
  }
  functions.sort((a, b) => a.name.localeCompare(b.name));
  return { functions, failures, outDir, destDir, ms: performance.now() - started };
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** The table: one row per function (bundle and zip size, cold import, the largest inputs), then the total. */
export function formatBundleTable(functions: BundledFunction[]): string {
  const rows = functions.map((f) => [
    f.name,
    kib(f.bundleBytes),
    kib(f.bytes) + (f.bytes > TARGET_ZIP_BYTES ? " !" : ""),
    f.coldImportMs === undefined ? "-" : f.coldImportMs.toFixed(0) + (f.coldImportMs > TARGET_COLD_IMPORT_MS ? " !" : ""),
    f.coldImportCpuMs === undefined ? "-" : f.coldImportCpuMs.toFixed(0),
    f.largestInputs.slice(0, 3).map((i) => `${i.path} ${kib(i.bytes)}`).join(", "),
  ]);
  const total = (pick: (f: BundledFunction) => number) => kib(functions.reduce((sum, f) => sum + pick(f), 0));
  const header = ["function", "loaded at start KiB", "zip KiB", "cold import ms", "its CPU ms", "largest inputs loaded at start (KiB)"];
  const footer = [`total (${functions.length})`, total((f) => f.bundleBytes), total((f) => f.bytes), "", "", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...[...rows, footer].map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 1 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line), rule, line(footer)].join("\n");
}

/** Prints a report: the table, the targets, then any failures. */
export function printBundleReport(report: BundleReport, write: (text: string) => void = (t) => process.stdout.write(t)): void {
  const rel = (p: string) => path.relative(process.cwd(), p) || ".";
  write(`Bundled ${report.functions.length} function(s) with esbuild into ${rel(report.outDir)} (zips in ${rel(report.destDir)}) in ${(report.ms / 1000).toFixed(1)} s\n\n`);
  write(`${formatBundleTable(report.functions)}\n`);
  write(`\ntargets: zip ≤ ${kib(TARGET_ZIP_BYTES)} KiB, cold import ≤ ${TARGET_COLD_IMPORT_MS} ms (wall time, median of 3 fresh Node processes, node ${process.version}; its CPU time beside it, which a busy machine does not inflate); "!" marks a miss\n`);
  for (const f of report.failures) write(`\nFAILED ${f.name}: ${f.error}\n`);
}

async function main(): Promise<void> {
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
