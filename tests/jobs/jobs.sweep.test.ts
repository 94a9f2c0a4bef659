import { describe, expect, it } from "vitest";
import { dedupId } from "../../src/core/jobs/index.js";
import { enqueue } from "../../src/core/queue.js";
import { publishJob } from "../../src/publishing/job.js";
import sweepFunction from "../../netlify/functions/sweep.js";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * The sweep's exactly-once guarantees, with several batches in flight per run and several runs at once: every due
 * target goes on the queue once, a send whose marking never committed is deduplicated when the next sweep sends it
 * again, and a message recorded as sent that never arrived is sent again under a new id. The scheduler itself is off
 * (its first run would come an hour after the home starts); the sweep's scheduled function is called directly, as
 * Netlify's cron calls it. The targets are due 100 s ahead, so nothing is delivered while the test looks.
 */
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "3600" } });

const runSweep = async () => {
  const res = await sweepFunction(new Request(`${t.home.url}/.netlify/functions/sweep`, { method: "POST", body: "{}" }));
  expect(res.status).toBe(200);
  return ((await res.json()) as Record<string, { enqueued: number }>).publish!.enqueued;
};

/** `n` scheduled posts with one pending X target each, due 100 s ahead (inside the lookahead), never queued. */
async function seedDueTargets(n: number): Promise<string[]> {
  const { user, profileId, apiKey } = await paidUserWithKey(t);
  const connectionId = await connectAccount(t, { apiKey }, "twitter");
  const rows = await t.sql<{ id: string }[]>`
    with posts as (
      insert into public.posts (profile_id, content, status, scheduled_for, created_by)
      select ${profileId}, 'Sweep test #' || g, 'scheduled', date_trunc('second', now()) + interval '100 seconds', ${user.id}
      from generate_series(1, ${n}::int) as g
      returning id, profile_id, scheduled_for
    )
    insert into public.post_targets (post_id, profile_id, platform, connection_id, scheduled_for, due_at)
    select id, profile_id, 'twitter', ${connectionId}, scheduled_for, scheduled_for from posts
    returning id`;
  return rows.map((r) => r.id);
}

/** Queue messages per target (the emulator's store), for the given targets. */
async function messagesPerTarget(ids: string[]): Promise<Map<string, number>> {
  const rows = await t.sql<{ target: string; n: number }[]>`
    select convert_from(body, 'UTF8')::jsonb ->> 'targetId' as target, count(*)::int as n
    from local_qstash.messages where url like '%/api/queue/publish'
      and convert_from(body, 'UTF8')::jsonb ->> 'targetId' = any(${ids})
    group by 1`;
  return new Map(rows.map((r) => [r.target, r.n]));
}

describe("the sweep puts each due target on the queue exactly once", () => {
  it("three sweeps at once over a backlog of several batches: every target queued and sent once", async () => {
    const ids = await seedDueTargets(1_700);
    const counts = await Promise.all([runSweep(), runSweep(), runSweep()]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(ids.length);
    const perTarget = await messagesPerTarget(ids);
    expect(perTarget.size).toBe(ids.length);
    expect([...perTarget.values()].every((n) => n === 1)).toBe(true);
    const [unmarked] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from public.post_targets where id = any(${ids}) and queued_for is distinct from due_at`;
    expect(unmarked!.n).toBe(0);
    // Nothing is left for an idle sweep.
    expect(await runSweep()).toBe(0);
  });

  it("a sweep that sent its batch but died before marking it: the next sweep's send is deduplicated", async () => {
    const ids = await seedDueTargets(30);
    const targets = await t.sql<{ id: string; due_at: Date }[]>`select id, due_at from public.post_targets where id = any(${ids})`;
    // What the dead sweep had sent: the same messages under the same deduplication ids, and nothing marked.
    await enqueue(
      targets.map((r) => ({
        path: publishJob.path,
        body: { targetId: r.id },
        notBefore: r.due_at,
        deduplicationId: dedupId(publishJob.name, r.id, r.due_at),
      })),
    );
    expect(await runSweep()).toBe(ids.length);
    const perTarget = await messagesPerTarget(ids);
    expect([...perTarget.values()]).toEqual(ids.map(() => 1));
    expect(await runSweep()).toBe(0);
  });

  it("a message recorded as sent that never arrived is sent again, once, under a new id", async () => {
    const ids = await seedDueTargets(5);
    // Marked as sent 16 minutes ago (past the resend window), but the queue holds nothing for them.
    await t.sql`
      update public.post_targets set queued_for = due_at, queued_at = now() - interval '16 minutes' where id = any(${ids})`;
    expect(await runSweep()).toBe(ids.length);
    expect([...(await messagesPerTarget(ids)).values()]).toEqual(ids.map(() => 1));
    expect(await runSweep()).toBe(0);
  });
});
