/**
 * Re-seals every stored secret with the current key and the current format (`v2`, whose associated data binds each
 * value to its column and row: see src/core/crypto.ts). Run it:
 *
 * - once after upgrading a database written before `v2` existed (its `v1` values are bound to no row);
 * - after every key rotation: set ENCRYPTION_KEY_PREVIOUS to the old key and ENCRYPTION_KEY to the new one, deploy,
 *   run this script, and remove ENCRYPTION_KEY_PREVIOUS once it reports `failed: 0`.
 *
 *   DATABASE_URL=postgres://… ENCRYPTION_KEY=<new key> ENCRYPTION_KEY_PREVIOUS=<old key> npm run reencrypt
 *   (or, with the values in a file: npx tsx --env-file=.env scripts/reencrypt.ts)
 *
 * DATABASE_URL must be the service connection (the role that owns the tables; it bypasses RLS), e.g. Supabase's
 * session pooler or direct connection string. Rows are read in batches of `--batch <n>` (default 200) by id; a row
 * that needs work is re-read and re-sealed in its own short transaction (`for update`, and the update applies only if
 * the value is still the one that was opened), so the script can run while the app serves traffic. It is idempotent:
 * values already sealed by the current key in the current format are only checked (opened), never rewritten.
 *
 * It prints, per column, how many values were re-sealed, were already current, and could not be opened (with the
 * row ids of the latter: those need a new secret or a reconnect, since no configured key opens them). It exits 1 when
 * any value could not be opened, else 0.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import postgres from "postgres";
import { CiphertextError, isCurrent, keyringFrom, open, seal, type Keyring, type SealPurpose } from "../src/core/crypto.js";

/** Every encrypted column, with the purpose its values are sealed for. A new encrypted column must be added here. */
export const sealedColumns = [
  { table: "connections", column: "access_token_enc", purpose: "connections.access_token" },
  { table: "connections", column: "refresh_token_enc", purpose: "connections.refresh_token" },
  { table: "webhook_endpoints", column: "secret_enc", purpose: "webhook_endpoints.secret" },
  { table: "white_label_apps", column: "client_secret_enc", purpose: "white_label_apps.client_secret" },
] as const satisfies readonly { table: string; column: string; purpose: SealPurpose }[];

type SealedColumn = (typeof sealedColumns)[number];

export interface ColumnCounts {
  table: string;
  column: string;
  /** Values rewritten with the current key and format. */
  resealed: number;
  /** Values already sealed by the current key in the current format (and opening). */
  current: number;
  /** Values no configured key opens for their row (or that changed while being re-sealed). */
  failed: number;
  failedIds: string[];
}

export interface ReencryptOptions {
  /** The service connection. */
  sql: postgres.Sql;
  keyring: Keyring;
  batchSize?: number;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

/** Re-seals every encrypted column; returns the counts per column. */
export async function reencrypt({ sql, keyring, batchSize = 200, log = () => {} }: ReencryptOptions): Promise<ColumnCounts[]> {
  const counts = new Map<SealedColumn, ColumnCounts>(
    sealedColumns.map((c) => [c, { table: c.table, column: c.column, resealed: 0, current: 0, failed: 0, failedIds: [] }]),
  );
  const tables = [...new Set(sealedColumns.map((c) => c.table))];
  for (const table of tables) {
    const columns = sealedColumns.filter((c) => c.table === table);
    const names = columns.map((c) => c.column);
    let after: string | undefined;
    let seen = 0;
    for (;;) {
      const rows = await sql<Record<string, string | null>[]>`
        select id, ${sql(names)} from ${sql(`public.${table}`)}
        where ${after === undefined ? sql`true` : sql`id > ${after}`}
        order by id limit ${batchSize}`;
      if (!rows.length) break;
      for (const row of rows) {
        const id = row.id!;
        if (columns.every((c) => row[c.column] == null || isCurrent(row[c.column]!, keyring))) {
          // Nothing to rewrite: only check that each value opens for its row.
          for (const c of columns) {
            const value = row[c.column];
            if (value == null) continue;
            if (opens(value, c, id, keyring)) counts.get(c)!.current++;
            else fail(counts.get(c)!, id);
          }
        } else {
          await resealRow(sql, keyring, table, columns, id, counts);
        }
      }
      seen += rows.length;
      after = rows[rows.length - 1]!.id!;
      log(`${table}: ${seen} rows checked`);
    }
  }
  return [...counts.values()];
}

function opens(value: string, c: SealedColumn, rowId: string, keyring: Keyring): boolean {
  return openOrUndefined(value, c, rowId, keyring) !== undefined;
}

function openOrUndefined(value: string, c: SealedColumn, rowId: string, keyring: Keyring): string | undefined {
  try {
    return open(value, { purpose: c.purpose, rowId }, keyring);
  } catch (error) {
    if (error instanceof CiphertextError) return undefined;
    throw error;
  }
}

function fail(counts: ColumnCounts, id: string): void {
  counts.failed++;
  counts.failedIds.push(id);
}

/** One row, in its own transaction: lock it, open each value that is not current, seal it again, write it back. */
async function resealRow(
  sql: postgres.Sql,
  keyring: Keyring,
  table: string,
  columns: SealedColumn[],
  id: string,
  counts: Map<SealedColumn, ColumnCounts>,
): Promise<void> {
  await sql.begin(async (tx) => {
    const [row] = await tx<Record<string, string | null>[]>`
      select ${tx(columns.map((c) => c.column))} from ${tx(`public.${table}`)} where id = ${id} for update`;
    if (!row) return; // deleted meanwhile: nothing left to protect
    const changes: { c: SealedColumn; old: string; sealed: string }[] = [];
    for (const c of columns) {
      const value = row[c.column];
      if (value == null) continue;
      const plaintext = openOrUndefined(value, c, id, keyring);
      if (plaintext === undefined) fail(counts.get(c)!, id);
      else if (isCurrent(value, keyring)) counts.get(c)!.current++;
      else changes.push({ c, old: value, sealed: seal(plaintext, { purpose: c.purpose, rowId: id }, keyring) });
    }
    if (!changes.length) return;
    const set = changes.reduce((acc, x, i) => (i ? tx`${acc}, ${tx(x.c.column)} = ${x.sealed}` : tx`${tx(x.c.column)} = ${x.sealed}`), tx``);
    const unchanged = changes.reduce((acc, x) => tx`${acc} and ${tx(x.c.column)} = ${x.old}`, tx`id = ${id}`);
    const updated = await tx`update ${tx(`public.${table}`)} set ${set} where ${unchanged}`;
    for (const x of changes) {
      if (updated.count === 1) counts.get(x.c)!.resealed++;
      else fail(counts.get(x.c)!, id);
    }
  });
}

/** Human-readable summary lines. */
export function summary(counts: ColumnCounts[]): string[] {
  const lines = counts.map(
    (c) =>
      `${c.table}.${c.column}: re-sealed ${c.resealed}, already current ${c.current}, failed ${c.failed}` +
      (c.failedIds.length ? ` (ids: ${c.failedIds.join(", ")})` : ""),
  );
  const total = (k: "resealed" | "current" | "failed") => counts.reduce((n, c) => n + c[k], 0);
  lines.push(`total: re-sealed ${total("resealed")}, already current ${total("current")}, failed ${total("failed")}`);
  return lines;
}

/** The command line: reads DATABASE_URL, ENCRYPTION_KEY and ENCRYPTION_KEY_PREVIOUS; returns the exit code. */
export async function main(argv = process.argv.slice(2)): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL;
  const current = process.env.ENCRYPTION_KEY;
  if (!databaseUrl || !current) {
    console.error("usage: DATABASE_URL=… ENCRYPTION_KEY=… [ENCRYPTION_KEY_PREVIOUS=…] npm run reencrypt [-- --batch <n>]");
    return 2;
  }
  const batchArg = argv.indexOf("--batch");
  const batchSize = batchArg >= 0 ? Number(argv[batchArg + 1]) : 200;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    console.error("--batch must be a positive integer");
    return 2;
  }
  let keyring: Keyring;
  try {
    keyring = keyringFrom(current, process.env.ENCRYPTION_KEY_PREVIOUS || undefined);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  console.log(`sealing with key ${keyring.current.id}` + (keyring.previous ? `; also opening key ${keyring.previous.id}` : ""));
  const sql = postgres(databaseUrl, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const counts = await reencrypt({ sql, keyring, batchSize, log: (line) => console.log(line) });
    for (const line of summary(counts)) console.log(line);
    return counts.some((c) => c.failed > 0) ? 1 : 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main().catch((error: unknown) => {
    console.error(`re-encrypt stopped: ${(error as Error).message}`);
    return 1;
  });
}
