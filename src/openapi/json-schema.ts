import { z } from "zod";

/** A JSON Schema (draft 2020-12, which OpenAPI 3.1 uses as is). */
export type JsonSchema = Record<string, unknown>;

/**
 * Collects the named sub-schemas (`$defs`) every converted schema brings along, under one name space that becomes
 * the document's `components.schemas`, so a `$ref` inside an operation still resolves from the document's root.
 */
export class SchemaStore {
  readonly components: Record<string, JsonSchema> = {};

  /**
   * Converts a zod schema whatever it is made of: transforms, refinements, preprocess and pipes convert to their
   * input side (`io: "input"`, for requests) or output side (`"output"`, for responses); a part JSON Schema cannot
   * express (a custom type, a transform's result, a date object) becomes `{}` (anything) instead of an error. A schema
   * the converter still refuses becomes `{}` with a description saying so, so one route never breaks the document.
   */
  convert(schema: z.ZodType, io: "input" | "output", prefix: string): JsonSchema {
    let out: JsonSchema;
    try {
      out = z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12", cycles: "ref", reused: "inline" }) as JsonSchema;
    } catch (error) {
      return { description: `(not convertible to JSON Schema: ${error instanceof Error ? error.message : String(error)})` };
    }
    delete out.$schema;
    const defs = (out.$defs ?? {}) as Record<string, JsonSchema>;
    delete out.$defs;
    const renames = new Map<string, string>();
    for (const name of Object.keys(defs)) {
      let target = `${prefix}_${name}`.replace(/[^A-Za-z0-9._-]/g, "_");
      for (let i = 2; Object.hasOwn(this.components, target); i++) target = `${prefix}_${name}_${i}`;
      renames.set(name, target);
      this.components[target] = {};
    }
    const rewrite = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(rewrite);
      if (!value || typeof value !== "object") return value;
      const copy: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        if (key === "$ref" && typeof inner === "string") {
          if (inner === "#") copy[key] = `#/components/schemas/${prefix}_root`;
          else if (inner.startsWith("#/$defs/")) copy[key] = `#/components/schemas/${renames.get(inner.slice(8)) ?? inner.slice(8)}`;
          else copy[key] = inner;
        } else copy[key] = rewrite(inner);
      }
      return copy;
    };
    for (const [name, def] of Object.entries(defs)) this.components[renames.get(name)!] = rewrite(def) as JsonSchema;
    const result = rewrite(out) as JsonSchema;
    // A schema that refers to itself as a whole (`$ref: "#"`) is stored once as a component too.
    if (JSON.stringify(result).includes(`#/components/schemas/${prefix}_root"`)) this.components[`${prefix}_root`] = result;
    return result;
  }
}

/** Whether a converted schema accepts nothing (`z.never()`): the route answers without a JSON body (a redirect). */
export function acceptsNothing(schema: JsonSchema): boolean {
  const not = schema.not as JsonSchema | undefined;
  return Boolean(not && typeof not === "object" && Object.keys(not).length === 0);
}
