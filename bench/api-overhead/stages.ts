import net from "node:net";
import { performance } from "node:perf_hooks";
import { readWithApiKey, verifyApiKey, type Caller } from "../../src/core/auth.js";
import { pageOf } from "../../src/core/pagination.js";
import { limitApiRequest } from "../../src/core/ratelimit/limit-api-request.js";
import { servicePool, services } from "../../src/core/services.js";
import type { LocalHome } from "../../src/local/home.js";
import { listProfiles, listProfilesSql } from "../../src/profiles/profiles.js";

/**
 * Where the time goes: each stage of our pipeline run on its own, one call at a time (no concurrency, so each figure
 * is the stage's own cost, not queueing), with the statements it sends to Postgres counted on the wire.
 *
 * Statements are counted by reading what this process writes to the Postgres port: every Execute message (extended
 * protocol, one per statement) and every simple Query message. Round trips are the writes that end in something the
 * client then waits for (Sync, Flush or a simple Query): with `prepare: false` postgres.js sends a statement that has
 * parameters as two of them (Parse and Describe, then Bind and Execute), and statements pipelined together share one.
 * The QStash emulator polls a few times a second from the same process; over a stage's calls that adds well under 0.1
 * statement per call.
 */
export interface StageRow {
  stage: string;
  statements: number;
  roundTrips: number;
  wallMs: number;
  nodeCpuMs: number;
  postgresCpuMs: number;
}

let counting = false;
let statements = 0;
let roundTrips = 0;

/** Counts Execute ('E') and Query ('Q') messages, and writes that wait for an answer, to `port` (installed once). */
function countStatementsTo(port: number): void {
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (counting && this.remotePort === port && Buffer.isBuffer(chunk)) {
      // Frontend messages: a type byte and a length (which counts itself). postgres.js writes whole messages.
      let at = 0;
      let waits = false;
      while (at + 5 <= chunk.length) {
        const type = chunk[at]!;
        const length = chunk.readInt32BE(at + 1);
        if (length < 4) break;
        if (type === 0x45 /* E */ || type === 0x51 /* Q */) statements++;
        if (type === 0x53 /* Sync */ || type === 0x48 /* Flush */ || type === 0x51 /* Q */) waits = true;
        at += 1 + length;
      }
      if (waits) roundTrips++;
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof net.Socket.prototype.write;
}

export interface StageOptions {
  home: LocalHome;
  apiKey: string;
  oursUrl: string;
  floorUrl: string;
  endpoint: string;
  postgresPort: number;
  calls: number;
  readPostgresCpu?: () => number;
}

export async function measureStages(o: StageOptions): Promise<StageRow[]> {
  countStatementsTo(o.postgresPort);
  const s = services();
  const caller = (await verifyApiKey(o.apiKey, s)) as Extract<Caller, { kind: "apiKey" }>;
  const headers = { "x-api-key": o.apiKey };
  const stages: [string, () => Promise<unknown>][] = [
    ["key lookup and list in one message (readWithApiKey)", () => readWithApiKey(o.apiKey, listProfilesSql(pageOf({ limit: 50 })), s)],
    ["rate limit + monthly quota (limitApiRequest)", () => limitApiRequest(caller, s, servicePool(s.env))],
    ["other routes' steps: key lookup (verifyApiKey)", () => verifyApiKey(o.apiKey, s)],
    ["other routes' steps: caller transaction (db.as)", () => s.db.as(caller.claims, (tx) => listProfiles(tx, pageOf({ limit: 50 })))],
    ["whole request in-process (home.fetch)", async () => (await o.home.fetch(new Request(o.oursUrl + o.endpoint, { headers }))).text()],
    ["whole request over HTTP: ours", async () => (await fetch(o.oursUrl + o.endpoint, { headers })).text()],
    ["whole request over HTTP: floor", async () => (await fetch(o.floorUrl + o.endpoint)).text()],
  ];
  const rows: StageRow[] = [];
  for (const [stage, run] of stages) {
    for (let i = 0; i < 20; i++) await run(); // warm
    const pg0 = o.readPostgresCpu?.();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    statements = 0;
    roundTrips = 0;
    counting = true;
    for (let i = 0; i < o.calls; i++) await run();
    counting = false;
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const pg1 = o.readPostgresCpu?.();
    rows.push({
      stage,
      statements: statements / o.calls,
      roundTrips: roundTrips / o.calls,
      wallMs: wall / o.calls,
      nodeCpuMs: (cpu.user + cpu.system) / 1000 / o.calls,
      postgresCpuMs: pg0 !== undefined && pg1 !== undefined ? (pg1 - pg0) / o.calls : Number.NaN,
    });
  }
  return rows;
}
