import { z } from "zod";
import type postgres from "postgres";
import { AppError } from "./errors.js";
import { literal, type Tx } from "./pg.js";

/** Keyset pagination: the cursor is the (created_at, id) of the last row seen, opaque to clients. */
export interface Keyset {
  createdAt: Date;
  id: string;
}

export function encodeCursor(row: { created_at: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.created_at.toISOString(), row.id])).toString("base64url");
}

/** The cursor of the page after this one, or null when this is the last page. */
export function nextCursor(page: { rows: { created_at: Date; id: string }[]; hasMore: boolean }): string | null {
  const last = page.rows.at(-1);
  return page.hasMore && last ? encodeCursor(last) : null;
}

export function decodeCursor(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime()) || !z.uuid().safeParse(id).success) throw new Error("bad cursor");
    return { createdAt, id };
  } catch {
    throw new AppError("validation_error", "Invalid query parameter 'cursor': not a cursor this API returned", {
      details: [{ field: "cursor", message: "Not a cursor this API returned" }],
    });
  }
}

/** `limit` and `cursor` for list endpoints. */
export const pageQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(200).optional(),
});

/** What a list asks for: how many rows, and the keyset of the last row already seen (none for the first page). */
export interface PageSpec {
  limit: number;
  before?: Keyset;
}

/** One page of rows, newest first, and the cursor of the next page (null on the last one). */
export interface Page<R> {
  rows: R[];
  nextCursor: string | null;
}

/** Reads `limit` and `cursor` from a list's query (an unreadable cursor answers 400 naming it). */
export function pageOf(query: { limit: number; cursor?: string }): PageSpec {
  return { limit: query.limit, before: decodeCursor(query.cursor) };
}

/**
 * The one keyset page: `fetch` runs the list's query with `where` (the keyset predicate on `(created_at, id)`, or
 * `true` on the first page) and `take` rows (`limit + 1`, to learn whether there is a next page), ordered by
 * `created_at desc, id desc`. `columns` names the two columns when the query qualifies them (e.g. `p.created_at`).
 *
 * Both are written into the statement as literals rather than sent as parameters (`keysetSql`): without prepared
 * statements (the transaction pooler's rule), postgres.js sends a statement that has parameters in two round trips,
 * the first only to learn their types (see `literal` in ./pg.ts), so a list the RLS policies alone scope (profiles,
 * for one) goes out in one round trip instead of two, in the same write as the caller's setup statement.
 */
export async function keysetPage<R extends { created_at: Date; id: string }>(
  tx: Tx,
  spec: PageSpec,
  fetch: (where: postgres.Fragment, take: postgres.Fragment) => Promise<readonly R[]>,
  columns: { createdAt: string; id: string } = { createdAt: "created_at", id: "id" },
): Promise<Page<R>> {
  const { where, take } = keysetSql(spec, columns);
  return pageOfRows(await fetch(tx.unsafe(where), tx.unsafe(take)), spec);
}

/**
 * A keyset page's predicate and row count as SQL text: the row count an integer from the validated query, the cursor
 * a timestamp and a UUID `decodeCursor` checked, both as literals. `columns` are the list's own column names (code,
 * never input).
 */
export function keysetSql(spec: PageSpec, columns: { createdAt: string; id: string }): { where: string; take: string } {
  if (!Number.isInteger(spec.limit) || spec.limit < 1) throw new Error(`keysetPage: limit must be a positive integer, got ${spec.limit}`);
  const where = spec.before
    ? `(${columns.createdAt}, ${columns.id}) < (${literal(spec.before.createdAt.toISOString())}::timestamptz, ${literal(spec.before.id)}::uuid)`
    : "true";
  return { where, take: String(spec.limit + 1) };
}

/** The page `limit + 1` rows read with `keysetSql` make: the first `limit`, and whether there is a next page. */
export function pageOfRows<R extends { created_at: Date; id: string }>(rows: readonly R[], spec: PageSpec): Page<R> {
  const page = rows.slice(0, spec.limit);
  return { rows: page, nextCursor: nextCursor({ rows: page, hasMore: rows.length > spec.limit }) };
}

/** The `nextCursor` every list answer carries. */
export const nextCursorSchema = z.string().nullable();
