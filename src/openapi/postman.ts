/**
 * A Postman (v2.1) collection made from the OpenAPI document, one folder per tag, so the API can be tried from
 * Postman or Insomnia: set the collection variables `baseUrl` and `apiKey` (or `accessToken` for dashboard routes).
 */
type Operation = {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: { name?: string; in?: string; required?: boolean; $ref?: string }[];
  requestBody?: { content?: Record<string, { examples?: Record<string, { value: unknown }> }> };
};

export function postmanCollection(doc: { info: { title: string; description?: string }; paths: Record<string, Record<string, Operation>> }) {
  const folders = new Map<string, unknown[]>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const headers: { key: string; value: string }[] = [];
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      if (schemes.includes("apiKeyAuth")) headers.push({ key: "X-API-Key", value: "{{apiKey}}" });
      else if (schemes.includes("bearerAuth")) headers.push({ key: "Authorization", value: "Bearer {{accessToken}}" });
      if (op.parameters?.some((p) => p.$ref?.endsWith("/IdempotencyKey"))) headers.push({ key: "Idempotency-Key", value: "{{$guid}}" });
      const example = Object.values(op.requestBody?.content?.["application/json"]?.examples ?? {})[0]?.value;
      if (op.requestBody) headers.push({ key: "Content-Type", value: "application/json" });
      const segments = path.split("/").filter(Boolean).map((s) => (s.startsWith("{") ? `:${s.slice(1, -1)}` : s));
      const query = (op.parameters ?? []).filter((p) => p.in === "query").map((p) => ({ key: p.name!, value: "", disabled: !p.required }));
      const variable = (op.parameters ?? []).filter((p) => p.in === "path").map((p) => ({ key: p.name!, value: "" }));
      const item = {
        name: op.summary ?? `${method.toUpperCase()} ${path}`,
        request: {
          method: method.toUpperCase(),
          header: headers,
          url: { raw: `{{baseUrl}}/${segments.join("/")}`, host: ["{{baseUrl}}"], path: segments, query, variable },
          ...(op.requestBody ? { body: { mode: "raw", raw: JSON.stringify(example ?? {}, null, 2), options: { raw: { language: "json" } } } } : {}),
          description: op.description,
        },
      };
      const tag = op.tags?.[0] ?? "other";
      folders.set(tag, [...(folders.get(tag) ?? []), item]);
    }
  }
  return {
    info: {
      name: doc.info.title,
      schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
      description: "Generated from the OpenAPI document (/api/v1/openapi.json).",
    },
    variable: [
      { key: "baseUrl", value: "http://localhost:8888" },
      { key: "apiKey", value: "" },
      { key: "accessToken", value: "" },
    ],
    item: [...folders.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, item]) => ({ name, item })),
  };
}
