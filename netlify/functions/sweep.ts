import type { Config } from "@netlify/functions";
import { jsonResponse } from "../../src/core/http.js";
import { sweep } from "../../src/core/jobs/index.js";
import { jobs } from "../../src/jobs.js";

/** Scheduled function: every job's due work (src/jobs.ts): recovers abandoned claims and puts due work on the queue. */
export default async function handler(_req: Request): Promise<Response> {
  return jsonResponse(200, await sweep(jobs));
}

export const config: Config = { schedule: "* * * * *" };
