import { describe, expect, it } from "vitest";
import { servicePool } from "../../src/core/services.js";
import { createPostgresLimiter } from "../../src/core/ratelimit/postgres.js";
import { useTestHome } from "../helpers/home.js";
import { limiterContract, policy } from "../helpers/limiter-contract.js";

const t = useTestHome();

limiterContract("Postgres", () => createPostgresLimiter(() => servicePool()));

describe("Postgres limiter: storage", () => {
  it("keeps one row per bucket, reused from window to window", async () => {
    const limiter = createPostgresLimiter(() => servicePool());
    const p = policy("storage_rows", 5, 1_000);
    await limiter.limit(p, "one");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await limiter.limit(p, "one");
    const rows = await t.sql`select bucket, used from public.rate_limit_counters where bucket like 'storage_rows:%'`;
    expect(rows).toEqual([{ bucket: "storage_rows:one", used: 1 }]);
  });

  it("is not reachable from a user's session", async () => {
    await expect(
      t.sql.begin(async (tx) => {
        await tx`set local role amplify_api`;
        return tx`select * from public.rate_limit_hit('api_requests:x', 1000, 1)`;
      }),
    ).rejects.toMatchObject({ code: "42501" });
    await expect(
      t.sql.begin(async (tx) => {
        await tx`set local role amplify_api`;
        return tx`select * from public.rate_limit_counters`;
      }),
    ).rejects.toMatchObject({ code: "42501" });
  });
});
