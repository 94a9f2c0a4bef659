import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { generatedDocument } from "../../src/openapi/load.js";

/**
 * Every response the suite receives from the API (`t.call`, `t.http` in tests/helpers/home.ts) is checked against the
 * OpenAPI document generated from the route tables: a success body against its operation's documented schema (an
 * undocumented field, a missing one or a wrong type fails the test that produced it), an error against the error
 * envelope. A success answer from a path or method the document does not have fails too. Paths outside /api (the
 * emulators, sandboxes, /_local, static pages) are not the API's and are skipped. OPENAPI_VALIDATE=0 turns it off.
 */

// ajv-formats is CommonJS with a default export; under NodeNext its namespace is what `import` gives.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

type Doc = { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, Response> } };
type Response = { $ref?: string; content?: Record<string, { schema?: unknown }> };
type Operation = { operationId: string; responses: Record<string, Response> };

interface Compiled {
  doc: Doc;
  ajv: Ajv2020;
  matchers: { regex: RegExp; path: string }[];
  validators: Map<string, ValidateFunction>;
}

let compiled: Promise<Compiled> | undefined;

function compile(): Promise<Compiled> {
  compiled ??= generatedDocument().then((document) => {
    const doc = structuredClone(document) as unknown as Doc;
    const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    // Formats zod names that JSON Schema does not define (zod also writes a `pattern` for the ones that matter).
    for (const name of ["starts_with", "ends_with", "includes", "lowercase", "uppercase", "cuid", "cuid2", "ulid", "nanoid", "xid", "ksuid", "emoji", "e164", "jwt", "base64", "base64url", "cidrv4", "cidrv6", "mac"]) {
      ajv.addFormat(name, true);
    }
    ajv.addSchema(doc as object, "openapi");
    const matchers = Object.keys(doc.paths)
      // Literal paths before templated ones, so /api/v1/openapi.json is not read as a parameter.
      .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))
      .map((path) => ({ path, regex: new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}/?$`) }));
    return { doc, ajv, matchers, validators: new Map() };
  });
  return compiled;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1")).join("/");

function validatorFor(c: Compiled, ref: string): ValidateFunction {
  let v = c.validators.get(ref);
  if (!v) {
    v = c.ajv.compile({ $ref: ref });
    c.validators.set(ref, v);
  }
  return v;
}

export class ResponseDriftError extends Error {
  override name = "ResponseDriftError";
}

/** Checks one response; throws ResponseDriftError naming the operation and every problem. */
export async function checkAgainstDocument(method: string, url: string, res: { status: number; headers: Headers; body: unknown }): Promise<void> {
  if (process.env.OPENAPI_VALIDATE === "0") return;
  const pathname = new URL(url, "http://local").pathname;
  if (pathname !== "/api" && !pathname.startsWith("/api/")) return;
  const verb = method.toLowerCase();
  if (verb === "head" || verb === "options") return;
  const c = await compile();
  const where = `${method.toUpperCase()} ${pathname} → ${res.status}`;
  const isJson = /^application\/(.+\+)?json\b/i.test(res.headers.get("content-type") ?? "");

  if (res.status >= 400) {
    if (!isJson) throw new ResponseDriftError(`${where}: an error must answer the JSON error envelope, got ${res.headers.get("content-type")}`);
    const validate = validatorFor(c, "openapi#/components/schemas/Error");
    if (!validate(res.body)) {
      throw new ResponseDriftError(`${where}: the body does not fit the error envelope: ${c.ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`);
    }
    return;
  }

  const match = c.matchers.find((m) => m.regex.test(pathname) && c.doc.paths[m.path]?.[verb]);
  if (!match) throw new ResponseDriftError(`${where}: a success from an operation the OpenAPI document does not have`);
  const operation = c.doc.paths[match.path]![verb]!;
  let response = operation.responses[String(res.status)];
  if (!response) {
    throw new ResponseDriftError(
      `${where}: ${operation.operationId} does not document status ${res.status} (it documents ${Object.keys(operation.responses).join(", ")})`,
    );
  }
  if (res.status >= 300 || !isJson) return;
  const jsonSchema = response.content?.["application/json"];
  if (!jsonSchema) throw new ResponseDriftError(`${where}: ${operation.operationId} documents no JSON body for ${res.status}`);
  const ref = `openapi#/${pointer("paths", match.path, verb, "responses", String(res.status), "content", "application/json", "schema")}`;
  const validate = validatorFor(c, ref);
  if (!validate(res.body)) {
    const problems = (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath || "(body)"} ${e.message}${e.params && "additionalProperty" in e.params ? `: '${String(e.params.additionalProperty)}'` : ""}`);
    throw new ResponseDriftError(
      `${where}: the body does not fit ${operation.operationId}'s documented schema:\n  ${problems.join("\n  ")}\n${JSON.stringify(res.body).slice(0, 2000)}`,
    );
  }
}
