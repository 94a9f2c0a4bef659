import { z } from "zod";
import { route } from "../core/api.js";
import { AppError } from "../core/errors.js";
// ./load.js (the generator and the YAML writer, ~110 KB of `yaml`) is imported on first use: a cold start of the
// function, which serves the built-in JSON, does not load it.

export const openapiDocumentResponse = z
  .looseObject({
    openapi: z.literal("3.1.0"),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.unknown()),
  })
  .describe("The OpenAPI 3.1 document of this API");

export const openapiYamlResponse = z.string().meta({ contentMediaType: "application/yaml", description: "The same document as YAML" });

/**
 * The document: generated from the sources in the local home (so it is always the running code's), and in the cloud
 * the one built into this function's bundle (src/openapi/embedded-document.ts, which `npm run build` replaces with the
 * document generated from the same sources; a bundled function cannot import its siblings to read their route tables).
 * Loaded on the first request, so a cold start does not parse it.
 */
async function documentFor(local: boolean): Promise<Record<string, unknown>> {
  if (local) return (await import("./load.js")).generatedDocument();
  const { default: embedded } = await import("./embedded-document.js");
  if (!embedded) throw new AppError("service_unavailable", "The OpenAPI document was not built into this function (build it with npm run build)");
  return embedded;
}

const headers = (type: string) => ({
  "content-type": type,
  "cache-control": "public, max-age=300",
  "access-control-allow-origin": "*",
});

export const openapiRoutes = [
  // The OpenAPI 3.1 document (no credentials: it describes the API, it holds no data)
  route("GET /api/v1/openapi.json", {
    auth: "none",
    response: openapiDocumentResponse,
    handle: async ({ services }) =>
      new Response(JSON.stringify(await documentFor(services.env.AMPLIFY_HOME === "local")), { headers: headers("application/json; charset=utf-8") }),
  }),
  // The same document as YAML
  route("GET /api/v1/openapi.yaml", {
    auth: "none",
    response: openapiYamlResponse,
    handle: async ({ services }) =>
      new Response((await import("./load.js")).toYaml(await documentFor(services.env.AMPLIFY_HOME === "local")), {
        headers: headers("application/yaml; charset=utf-8"),
      }),
  }),
];
