import { describe, expect, it } from "vitest";
import { manualClock } from "../../src/core/clock.js";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { advance, DAY, HOUR, near, rowOf, runJob, useKit } from "./token-health.kit.js";

/**
 * Runs of the refresh-ahead job can overlap: the home's own run every 5 minutes and a slow one before it, or two
 * deliveries of one run. A run that chose a connection and then waited for its lock must not refresh it a second
 * time once the first has. The home's scheduler is slowed right down here, so the only runs are the test's.
 */
const clock = manualClock();
const t = useTestHome({ clock, env: { SWEEP_INTERVAL_SECONDS: "3600" } });

useKit(t, clock);

describe("the refresh-ahead job, two runs at once", () => {
  it("refreshes a token once when a second run waited for the row the first was refreshing", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const id = await connectAccount(t, { apiKey }, "tiktok");
    const first = await rowOf(id);
    const now = await advance(19 * HOUR); // 5 hours of TikTok's 24 left: in its last quarter

    // Hold the row so both runs choose it and then queue for its lock.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const locked = t.sql.begin(async (tx) => {
      await tx`select id from public.connections where id = ${id} for update`;
      await held;
    });
    const runs = [runJob(), runJob()];
    await eventually(async () => {
      const [row] = await t.sql<{ waiting: number }[]>`
        select count(*)::int as waiting from pg_stat_activity
        where wait_event_type = 'Lock' and query ilike '%from public.connections%for update%'`;
      return row!.waiting >= 2 ? true : undefined;
    });
    release();
    await locked;
    const reports = await Promise.all(runs);

    expect(reports.map((r) => r.refreshed).sort()).toEqual([0, 1]);
    expect(reports.map((r) => r.failed)).toEqual([0, 0]);
    const refreshed = await rowOf(id);
    expect(refreshed.access_token_enc).not.toBe(first.access_token_enc);
    near(refreshed.token_expires_at, now.getTime() + DAY);
  });
});
