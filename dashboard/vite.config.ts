import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The dashboard: a Preact single-page app built into dist/ (the directory netlify.toml publishes), with public/
 * (landing page at /welcome/, API docs at /docs/) copied beside it. Everything ships in the build: no CDN at run time.
 */
export default defineConfig({
  root: here,
  base: "/",
  publicDir: path.join(here, "../public"),
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: path.join(here, "../dist"),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  // `npx vite --config dashboard/vite.config.ts` beside `npm start`: live reload on :5173, the rest proxied to :8888.
  server: {
    port: 5173,
    proxy: Object.fromEntries(
      ["/api", "/auth", "/storage", "/sandbox", "/stripe", "/v1", "/_local", "/docs", "/welcome"].map((prefix) => [prefix, process.env.AMPLIFY_URL ?? "http://localhost:8888"]),
    ),
  },
  logLevel: "warn",
});
