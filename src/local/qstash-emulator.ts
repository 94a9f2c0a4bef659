import type postgres from "postgres";
import type { FetchHandler } from "./server.js";

/** Local emulator of Upstash QStash's HTTP protocol (placeholder: being built). */
export interface QStashEmulator {
  handler: FetchHandler;
  start(): void;
  stop(): Promise<void>;
}

export async function createQStashEmulator(_options: {
  sql: postgres.Sql;
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
}): Promise<QStashEmulator> {
  return {
    handler: async () => new Response("QStash emulator not built yet", { status: 501 }),
    start() {},
    async stop() {},
  };
}
