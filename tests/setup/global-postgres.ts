import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type RunningPostgres } from "../../src/local/embedded-postgres.js";
import { migrate } from "../../src/local/migrate.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin URL of the test server (any database name can be swapped in). */
    pgServerUrl: string;
    /** A database migrated once per run; each test file clones it. */
    pgTemplate: string;
  }
}

/**
 * One Postgres server per run: embedded PostgreSQL 17 by default, or the server in TEST_DATABASE_URL. Migrations run
 * once into a template database; each test file gets a fresh clone of it (see tests/helpers/home.ts).
 */
export default async function setup(project: TestProject) {
  let embedded: RunningPostgres | undefined;
  let dataDir: string | undefined;
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "amplify-test-pg-"));
    // When tests run as root, Postgres runs as the `postgres` user and must be able to enter this directory.
    await chmod(dataDir, 0o755);
    embedded = await startEmbeddedPostgres(path.join(dataDir, "data"), { fast: true });
    serverUrl = embedded.url;
  }
  const template = `amplify_template_${process.pid}_${Date.now()}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${template}`);
    const templateUrl = new URL(serverUrl);
    templateUrl.pathname = `/${template}`;
    await migrate(templateUrl.toString());
  } catch (error) {
    // A broken migration fails the run at once, leaving no server behind.
    await admin.end();
    if (embedded) await embedded.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  project.provide("pgServerUrl", serverUrl);
  project.provide("pgTemplate", template);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`amplify_t%_${process.pid}_%`}`;
    for (const { datname } of leftovers) await admin.unsafe(`drop database if exists ${datname} with (force)`);
    await admin.end();
    if (embedded) await embedded.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
