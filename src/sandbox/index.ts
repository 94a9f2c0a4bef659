import type postgres from "postgres";
import type { FetchHandler } from "../local/server.js";

/** Sandbox platforms: emulations of each network's HTTP API, mounted at /sandbox (placeholder: being built). */
export async function createSandboxPlatforms(_options: { sql: postgres.Sql; baseUrl: string }): Promise<FetchHandler> {
  return async () => new Response("sandbox platforms not built yet", { status: 501 });
}
