import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const migrationsDir = path.join(root, "supabase/migrations");
export const localBuiltinsDir = path.join(root, "supabase/local");

/** Any fixed number: the advisory lock that serialises concurrent migrators on one database. */
const MIGRATION_LOCK = 727_001;

async function sqlFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort();
  return names.map((n) => path.join(dir, n));
}

/**
 * Brings a database up to date: first the Supabase built-ins a plain Postgres lacks (each guarded so it only adds
 * what is missing), then every file in supabase/migrations not yet recorded. Tracking uses the same table as the
 * Supabase CLI (`supabase_migrations.schema_migrations`), so a database migrated here and one pushed with
 * `supabase db push` agree on what has run. Each migration runs in its own transaction; a failure leaves nothing
 * half-applied. Returns the versions applied by this call.
 */
export async function migrate(databaseUrl: string, log: (line: string) => void = () => {}): Promise<string[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, prepare: false });
  const applied: string[] = [];
  try {
    await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      for (const file of await sqlFiles(localBuiltinsDir)) {
        await tx.unsafe(await readFile(file, "utf8"));
      }
      await tx.unsafe(`
        create schema if not exists supabase_migrations;
        create table if not exists supabase_migrations.schema_migrations (
          version text primary key, statements text[], name text
        );`);
      const done = new Set(
        (await tx<{ version: string }[]>`select version from supabase_migrations.schema_migrations`).map((r) => r.version),
      );
      for (const file of await sqlFiles(migrationsDir)) {
        const base = path.basename(file, ".sql");
        const [version, ...rest] = base.split("_");
        if (!version || done.has(version)) continue;
        const text = await readFile(file, "utf8");
        await tx.savepoint(async (sp) => {
          await sp.unsafe(text);
          await sp`insert into supabase_migrations.schema_migrations (version, name, statements)
                   values (${version}, ${rest.join("_")}, ${[text]})`;
        });
        applied.push(version);
        log(`applied migration ${base}`);
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
  return applied;
}
