import { describe, expect, it } from "vitest";
import { services } from "../../src/core/services.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { apiRequestLimitThroughTheFrontDoor, FRONT_DOOR_OVERRIDES } from "./front-door-suite.js";

/**
 * The same front-door suite on the Postgres limiter (no Upstash and not the local home's one process: a self-hoster's
 * deploy), where the key lookup counts the key's window in its own statement.
 */
const t = useTestHome({ env: { RATE_LIMIT_OVERRIDES: FRONT_DOOR_OVERRIDES, RATE_LIMIT_STORE: "postgres" } });

describe("the Postgres limiter through the front door", () => {
  it("is the one selected, and counts the key's window in the database", async () => {
    expect((await services().limiter.port()).backend).toBe("postgres");
    const { apiKey, keyId } = await paidUserWithKey(t);
    expect((await t.call("GET", "/api/v1/profiles", { apiKey })).status).toBe(200);
    const [bucket] = await t.sql`select used from public.rate_limit_counters where bucket = ${`api_requests:${keyId}`}`;
    expect(bucket).toEqual({ used: 1 });
  });
});

apiRequestLimitThroughTheFrontDoor(t, "Postgres");
