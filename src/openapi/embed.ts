import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

/** The module the plugin replaces (src/openapi/embedded-document.ts). */
export const embeddedDocumentModule = path.join(path.dirname(fileURLToPath(import.meta.url)), "embedded-document.ts");

/**
 * An esbuild plugin for `npm run build` (scripts/bundle-functions.ts): the bundle's src/openapi/embedded-document.ts
 * becomes the OpenAPI document generated from the sources being bundled (as JSON, which esbuild inlines). The openapi
 * function imports it lazily, so the document is a chunk of its own that only a request for it loads. The document is
 * generated once per build, in the build's process, from the same files it bundles: it cannot be stale. A function
 * module that fails to import fails the build (its routes would be missing from the document).
 */
export function embedOpenapiDocument(): Plugin {
  let generated: Promise<string> | undefined;
  const generate = async () => {
    const { generatedDocument, loadFailures } = await import("./load.js");
    const document = await generatedDocument();
    if (loadFailures.length) {
      throw new Error(`the OpenAPI document is incomplete: ${loadFailures.map((f) => `netlify/functions/${f.file} failed to import: ${f.error}`).join("; ")}`);
    }
    return JSON.stringify(document);
  };
  return {
    name: "embed-openapi-document",
    setup(b) {
      b.onResolve({ filter: /(^|\/)embedded-document(\.js|\.ts)?$/ }, (args) => {
        const resolved = path.resolve(args.resolveDir, args.path.replace(/\.js$/, ".ts"));
        const target = resolved.endsWith(".ts") ? resolved : `${resolved}.ts`;
        return target === embeddedDocumentModule ? { path: target, namespace: "openapi-document" } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "openapi-document" }, async () => {
        generated ??= generate();
        return { contents: await generated, loader: "json" };
      });
    },
  };
}
