import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFunctions, CHUNKS, FUNCTIONS_DIR, listFunctions, TARGET_ZIP_BYTES, type BundleReport } from "../../scripts/bundle-functions.js";
import { generatedDocument } from "../../src/openapi/load.js";

/**
 * Builds every function as `npm run build` does (esbuild bundles, zipped by zip-it-and-ship-it with node_bundler
 * "none", each bundle imported in a fresh Node process) into temp directories, and checks what Netlify would deploy.
 * Needs no database. Sizes are checked here; the cold-import time is a speed goal and is printed by `npm run build`.
 */

const KiB = 1024;

let outDir: string;
let destDir: string;
let report: BundleReport;

beforeAll(async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), "amplify-bundle-"));
  outDir = path.join(tmp, "bundled");
  destDir = path.join(tmp, "zips");
  report = await bundleFunctions({ outDir, destDir });
}, 300_000);

afterAll(async () => {
  if (outDir) await rm(path.dirname(outDir), { recursive: true, force: true });
});

const expected = listFunctions(FUNCTIONS_DIR).map((f) => f.name);

describe("bundle: every function builds into one ESM file that Netlify ships as it is", () => {
  it("finds functions to bundle", () => {
    expect(expected.length).toBeGreaterThan(0);
  });

  it("reports no failures (each bundle built, zipped, and imported in a fresh Node process with a default export)", () => {
    expect(report.failures.map((f) => `${f.name}: ${f.error}`)).toEqual([]);
  });

  it("keeps the scheduled function's cron (zip-it-and-ship-it reads `config` from the bundle)", () => {
    expect(report.functions.find((f) => f.name === "sweep")?.schedule).toBe("* * * * *");
  });

  it("loads Stripe, supabase-js and the Upstash SDKs only when used: none of them is in what a cold start loads", () => {
    for (const f of report.functions) {
      const loaded = f.largestInputs.map((i) => i.path);
      expect(loaded, f.name).not.toContain("stripe");
      expect(loaded, f.name).not.toContain("@supabase/supabase-js");
      expect(loaded, f.name).not.toContain("@upstash/redis");
      expect(loaded, f.name).not.toContain("@upstash/qstash");
    }
  });

  it("loads no network adapter at start (each is imported on first use); the openapi function loads its YAML writer on use", () => {
    // The registry imports a network's adapter module the first time it is asked for it (src/platforms/registry.ts),
    // so even the functions that publish, connect or sync (posts, connections, sweep…) start without any of the ten.
    const adapters = /^src\/platforms\/(twitter|linkedin|instagram|facebook|threads|tiktok|youtube|pinterest|reddit|bluesky)\.ts$/;
    for (const f of report.functions) expect(f.inputsAtStart.filter((i) => adapters.test(i)), f.name).toEqual([]);
    // …while its static facts are there for the answers that need no adapter (connection traits, hosts).
    expect(report.functions.find((f) => f.name === "connections")!.inputsAtStart).toContain("src/platforms/facts.ts");
    const openapi = report.functions.find((f) => f.name === "openapi")!;
    expect(openapi.inputsAtStart.some((i) => i.startsWith("node_modules/yaml/"))).toBe(false);
  });

  it("openapi: the built function serves the document built into it, as the cloud home runs it, with no network call", async () => {
    // A fresh Node process with a cloud environment (nothing listens at its addresses) and a fetch that fails loudly.
    const script = `
      let calls = 0;
      globalThis.fetch = async (input) => { calls++; throw new Error("network call to " + String(input)); };
      const m = await import(${JSON.stringify(pathToFileURL(path.join(outDir, "openapi.mjs")).href)});
      const answers = {};
      for (const p of ["openapi.json", "openapi.yaml"]) {
        const res = await m.default(new Request("https://amplify.example/api/v1/" + p));
        answers[p] = { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
      }
      process.stdout.write(JSON.stringify({ answers, calls }));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: "production",
        AMPLIFY_HOME: "cloud",
        DATABASE_URL: "postgres://nobody:nothing@127.0.0.1:9/none",
        SUPABASE_URL: "https://supabase.invalid",
        SUPABASE_ANON_KEY: "anon",
        ENCRYPTION_KEY: "0123456789abcdef0123456789abcdef",
        APP_URL: "https://amplify.example",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code, err).toBe(0);
    const { answers, calls } = JSON.parse(out) as { answers: Record<string, { status: number; type: string; body: string }>; calls: number };
    expect(calls, "the openapi function called fetch").toBe(0);
    expect(answers["openapi.json"]!.status, answers["openapi.json"]!.body.slice(0, 300)).toBe(200);
    expect(answers["openapi.json"]!.type).toMatch(/^application\/json/);
    // The very document the sources generate (the bundle was built in this process, from the same route tables).
    expect(JSON.parse(answers["openapi.json"]!.body)).toEqual(await generatedDocument());
    expect(answers["openapi.yaml"]!.status).toBe(200);
    expect(answers["openapi.yaml"]!.body).toMatch(/^openapi: 3\.1\.0\n/);
  }, 60_000);

  for (const name of expected) {
    it(`${name}: a zip under 1 MiB holding the entry point, the bundle and the lazily loaded chunks`, async () => {
      const bundled = report.functions.find((f) => f.name === name);
      expect(bundled, `function "${name}" produced no zip`).toBeDefined();
      const { path: zipPath, bytes, bundle, bundler } = bundled!;
      expect(bundler).toBe("none");
      expect(bundle).toBe(path.join(outDir, `${name}.mjs`));
      expect(path.dirname(zipPath), `function "${name}" zip written outside the destination`).toBe(destDir);
      expect((await stat(zipPath)).size, `function "${name}" zip size on disk`).toBe(bytes);
      expect(bytes, `function "${name}" zip is only ${bytes} bytes`).toBeGreaterThan(KiB);
      expect(bytes, `function "${name}" zip is ${(bytes / KiB).toFixed(0)} KiB`).toBeLessThanOrEqual(TARGET_ZIP_BYTES);
      // Zip entry names are stored uncompressed, so the listing can be checked without unzipping.
      const raw = (await readFile(zipPath)).toString("latin1");
      expect(raw.startsWith("PK\x03\x04"), `function "${name}": not a zip archive`).toBe(true);
      expect(raw, `function "${name}": no Netlify entry point in the zip`).toContain("___netlify-entry-point.mjs");
      expect(raw, `function "${name}": its bundle is missing from the zip`).toContain(`${name}.mjs`);
      expect(raw, `function "${name}": the chunks are missing from the zip`).toContain(`${CHUNKS}/chunk-`);
      expect(raw, `function "${name}": node_modules shipped beside the bundle`).not.toContain("node_modules/");
    });
  }
});
