import { copyFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { projectRoot } from "./load.js";

/**
 * The reference page (public/docs/index.html) runs Scalar's API reference from our own origin: its standalone
 * browser bundle, from the npm package, is copied to public/docs/vendor/ (by `npm run build`, and by the local home
 * at start when it is missing or another version), never loaded from a CDN.
 */
export const docsDir = path.join(projectRoot, "public/docs");
export const referenceBundle = path.join(docsDir, "vendor/scalar-api-reference.js");

/** The package's standalone browser bundle (its exports map hides it, so it is found beside the package's entry). */
function sourceBundle(): string {
  const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
  return path.join(path.dirname(entry), "browser/standalone.js");
}

/** Copies the bundle when it is missing or differs in size; returns whether it copied (unchanged files keep their mtime). */
export function ensureReferenceBundle(): boolean {
  const source = sourceBundle();
  if (existsSync(referenceBundle) && statSync(referenceBundle).size === statSync(source).size) return false;
  mkdirSync(path.dirname(referenceBundle), { recursive: true });
  copyFileSync(source, referenceBundle);
  return true;
}
