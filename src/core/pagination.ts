import { z } from "zod";
import { AppError } from "./errors.js";

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
