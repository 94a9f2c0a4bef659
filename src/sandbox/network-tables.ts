import type { Sql } from "./common.js";

/**
 * Tables one sandbox network needs beyond the shared ones in common.ts (Pinterest boards, Bluesky app passwords and
 * records), in the same durable `local_sandbox` schema. They are created on the network's first request, once per
 * process, under an advisory lock so concurrent starts on one database do not race; a failed attempt is retried on
 * the next request.
 */
export function networkTables(sql: Sql, network: string, ddl: string): () => Promise<void> {
  let ready: Promise<void> | undefined;
  return () => {
    ready ??= sql
      .begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(hashtext(${`local_sandbox.${network}`}))`;
        await tx.unsafe(`create schema if not exists local_sandbox;\n${ddl}`);
      })
      .then(
        () => undefined,
        (error: unknown) => {
          ready = undefined;
          throw error;
        },
      );
    return ready;
  };
}
