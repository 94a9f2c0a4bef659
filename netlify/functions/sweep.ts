import type { Config } from "@netlify/functions";
import { jsonResponse } from "../../src/core/http.js";
import { sweep } from "../../src/publishing/sweep.js";

/** Scheduled function: recovers abandoned claims and puts due posts on the queue (see src/publishing/sweep.ts). */
export default async function handler(_req: Request): Promise<Response> {
  return jsonResponse(200, await sweep());
}

export const config: Config = { schedule: "* * * * *" };
