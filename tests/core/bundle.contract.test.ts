import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFunctions, FUNCTIONS_DIR, listFunctions, type BundleReport } from "../../scripts/bundle-functions.js";

/**
 * Bundles every function with Netlify's bundler (what `npm run build` does) into a temp directory and checks each
 * produced a plausible zip. Needs no database. Takes several seconds: it runs esbuild and a node_modules trace per
 * function.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

let destDir: string;
let report: BundleReport;

beforeAll(async () => {
  destDir = await mkdtemp(path.join(os.tmpdir(), "amplify-bundle-"));
  report = await bundleFunctions({ destDir });
}, 120_000);

afterAll(async () => {
  if (destDir) await rm(destDir, { recursive: true, force: true });
});

const expected = listFunctions(FUNCTIONS_DIR).map((f) => f.name);

describe("bundle: every function builds with zip-it-and-ship-it", () => {
  it("finds functions to bundle", () => {
    expect(expected.length).toBeGreaterThan(0);
  });

  it("reports no failures", () => {
    expect(report.failures.map((f) => `${f.name}: ${f.error}`)).toEqual([]);
  });

  for (const name of expected) {
    it(`${name}: zip is between 1 KiB and 5 MiB and holds the Netlify entry point and the function`, async () => {
      const bundled = report.functions.find((f) => f.name === name);
      expect(bundled, `function "${name}" produced no zip`).toBeDefined();
      const { path: zipPath, bytes } = bundled!;
      expect(path.dirname(zipPath), `function "${name}" zip written outside the destination`).toBe(destDir);
      expect((await stat(zipPath)).size, `function "${name}" zip size on disk`).toBe(bytes);
      expect(bytes, `function "${name}" zip is only ${bytes} bytes`).toBeGreaterThan(KiB);
      expect(bytes, `function "${name}" zip is ${(bytes / MiB).toFixed(1)} MiB`).toBeLessThan(5 * MiB);
      // Zip entry names are stored uncompressed, so the listing can be checked without unzipping.
      const raw = (await readFile(zipPath)).toString("latin1");
      expect(raw.startsWith("PK\x03\x04"), `function "${name}": not a zip archive`).toBe(true);
      expect(raw, `function "${name}": no Netlify entry point in the zip`).toContain("___netlify-entry-point.mjs");
      expect(raw, `function "${name}": compiled function missing from the zip`).toContain(`netlify/functions/${name}.mjs`);
    });
  }
});
