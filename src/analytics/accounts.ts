import type { Tx } from "../core/db.js";
import { catalog, platformIds, type Platform } from "../platforms/catalog.js";
import { accountAnalytics, analyticsSupport, metricsRequestScopes, networkAnalytics } from "./model.js";
import { round2 } from "./window.js";

/**
 * Per connected account: what its analytics can be (capabilities) and how its sync is doing (sync health). The
 * network's abilities and an account's limits come from the one metrics model (src/analytics/model.ts); the sync's
 * record from `analytics_sync_state`, written by the sync job (src/analytics/sync/).
 */

interface ConnectionRow {
  id: string;
  platform: string;
  username: string;
  status: string;
  scopes: string[];
  metadata: Record<string, unknown>;
}

async function connectionsOf(tx: Tx, profileId: string, platform: string | undefined) {
  return tx<ConnectionRow[]>`
    select id, platform, username, status, scopes, metadata from public.connections
    where profile_id = ${profileId} ${platform ? tx`and platform = ${platform}` : tx``}
    order by platform, created_at, id`;
}

const RECONNECT = "Reconnect the account: the network rejected its authorization";

export async function capabilities(tx: Tx, profileId: string, platform: Platform | undefined) {
  const connections = await connectionsOf(tx, profileId, platform);
  const accounts = connections.map((c) => {
    const support = analyticsSupport(c.platform, { scopes: c.scopes, metadata: c.metadata ?? {} });
    const connected = c.status === "connected";
    return {
      connectionId: c.id,
      platform: c.platform,
      username: c.username,
      connectionStatus: c.status,
      supported: support.supported,
      postMetrics: [...support.metrics],
      accountMetrics: support.followers ? ["followers"] : [],
      reason: support.reason ?? (connected ? null : RECONNECT),
      canSync: support.supported && connected,
    };
  });
  const platforms = (platform ? [platform] : [...platformIds]).map((p) => {
    const n = networkAnalytics[p];
    return {
      platform: p,
      displayName: catalog[p].displayName,
      supported: n.supported,
      postMetrics: [...n.metrics],
      accountMetrics: n.followers ? ["followers"] : [],
      reason: n.supported ? null : (n.reason ?? "This network offers no metrics"),
      connectedAccounts: connections.filter((c) => c.platform === p).length,
    };
  });
  return { platforms, accounts };
}

/**
 * An account is stale when neither a metric nor a successful sync is newer than this while some of its posts are
 * still in their collection window: longer than the slowest cadence (daily) with room for a late run.
 */
export const STALE_AFTER_HOURS = 36;
/** Consecutive failed syncs after which an account needs attention (a single failure is retried on its own). */
export const FAILURES_FOR_ATTENTION = 3;

type HealthStatus = "healthy" | "stale" | "needsAttention" | "noData" | "unsupported" | "disconnected";

interface AccountHealth {
  connectionId: string | null;
  platform: string;
  username: string | null;
  status: HealthStatus;
  lastMetricAt: string | null;
  lastSuccessAt: string | null;
  lastAttemptAt: string | null;
  nextSyncAt: string | null;
  freshnessHours: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  reason: string | null;
}

export async function syncHealth(tx: Tx, profileId: string, platform: Platform | undefined, now: Date) {
  const rows = await tx<
    (ConnectionRow & {
      health: string | null;
      last_attempt_at: Date | null;
      last_success_at: Date | null;
      last_metric_at: Date | null;
      next_sync_at: Date | null;
      last_error: string | null;
      consecutive_failures: number | null;
      in_window: boolean;
    })[]
  >`
    select c.id, c.platform, c.username, c.status, c.scopes, c.metadata,
           s.health, s.last_attempt_at, s.last_success_at, s.next_sync_at, s.last_error, s.consecutive_failures,
           -- The sync's record, else the newest rollup of the account: one backward probe of (connection_id,
           -- profile_id, last_captured_at). The profile is named so that the policy's profile test is an index
           -- condition too: by connection alone, the planner ANDs a bitmap of the whole profile's rollups per account
           -- under RLS (~30 ms an account at 100,000 posts).
           coalesce(s.last_metric_at, (select r.last_captured_at from public.post_metric_rollups r
                                       where r.connection_id = c.id and r.profile_id = c.profile_id
                                       order by r.last_captured_at desc limit 1)) as last_metric_at,
           exists (select from public.post_targets t
                   where t.connection_id = c.id and t.next_metrics_at is not null and t.profile_id = c.profile_id) as in_window
    from public.connections c
    left join public.analytics_sync_state s on s.connection_id = c.id and s.profile_id = c.profile_id
    where c.profile_id = ${profileId} ${platform ? tx`and c.platform = ${platform}` : tx``}
    order by c.platform, c.created_at, c.id`;
  // Posts published through an account that has since been disconnected (its targets lost their connection).
  const orphans = await tx<{ platform: string; last_metric_at: Date | null }[]>`
    select t.platform, max(r.last_captured_at) as last_metric_at
    from public.post_targets t
    left join public.post_metric_rollups r on r.target_id = t.id
    where t.profile_id = ${profileId} and t.status = 'published' and t.connection_id is null
      ${platform ? tx`and t.platform = ${platform}` : tx``}
    group by t.platform order by t.platform`;

  const hoursSince = (at: Date | null) => (at ? round2(Math.max(0, now.getTime() - at.getTime()) / 3_600_000) : null);
  const byAccount: AccountHealth[] = rows.map((r): AccountHealth => {
    const network = networkAnalytics[r.platform as Platform];
    const support = analyticsSupport(r.platform, { scopes: r.scopes, metadata: r.metadata ?? {} });
    const failures = r.consecutive_failures ?? 0;
    const newest = [r.last_metric_at, r.last_success_at].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
    let status: HealthStatus;
    let reason: string | null = null;
    if (!network?.supported || r.health === "unsupported" || (r.platform === "instagram" && r.metadata?.accountType === "PERSONAL")) {
      status = "unsupported";
      reason = support.reason ?? r.last_error ?? "This account offers no metrics";
    } else if (r.status !== "connected" || r.health === "needs_reconnect") {
      status = "needsAttention";
      reason = RECONNECT;
    } else if (!support.supported) {
      // Permissions the token lacks: a reconnect grants them when we ask for them at connect; otherwise (a scope the
      // network gives approved apps only) this account cannot have metrics here.
      const account = accountAnalytics(r.platform as Platform, r.metadata ?? {});
      const requested = metricsRequestScopes(r.platform as Platform);
      const missing = account.scopes.filter((anyOf) => !anyOf.some((s) => r.scopes.includes(s)));
      const fixable = missing.every((anyOf) => anyOf.some((s) => requested.includes(s)));
      status = fixable ? "needsAttention" : "unsupported";
      reason = support.reason;
    } else if (failures >= FAILURES_FOR_ATTENTION) {
      status = "needsAttention";
      reason = `The last ${failures} syncs failed${r.last_error ? `: ${r.last_error}` : ""}`;
    } else if (!r.last_metric_at) {
      status = "noData";
      reason = r.in_window
        ? failures > 0
          ? `No metrics yet; the last sync failed${r.last_error ? `: ${r.last_error}` : ""}`
          : "Waiting for the first sync of its published posts"
        : "No published posts to read metrics for yet";
    } else if (r.in_window && (hoursSince(newest) ?? Infinity) > STALE_AFTER_HOURS) {
      status = "stale";
      reason = `No metrics or successful sync for more than ${STALE_AFTER_HOURS} hours${failures && r.last_error ? `; the last sync failed: ${r.last_error}` : ""}`;
    } else {
      status = "healthy";
      reason = r.in_window ? null : "Every post is past its metrics collection window: nothing left to sync";
    }
    return {
      connectionId: r.id,
      platform: r.platform,
      username: r.username,
      status,
      lastMetricAt: r.last_metric_at?.toISOString() ?? null,
      lastSuccessAt: r.last_success_at?.toISOString() ?? null,
      lastAttemptAt: r.last_attempt_at?.toISOString() ?? null,
      nextSyncAt: r.next_sync_at?.toISOString() ?? null,
      freshnessHours: hoursSince(r.last_metric_at),
      consecutiveFailures: failures,
      lastError: r.last_error,
      reason,
    };
  });
  for (const o of orphans) {
    byAccount.push({
      connectionId: null,
      platform: o.platform,
      username: null,
      status: "disconnected",
      lastMetricAt: o.last_metric_at?.toISOString() ?? null,
      lastSuccessAt: null,
      lastAttemptAt: null,
      nextSyncAt: null,
      freshnessHours: hoursSince(o.last_metric_at),
      consecutiveFailures: 0,
      lastError: null,
      reason: `Posts published on ${catalog[o.platform as Platform]?.displayName ?? o.platform} through an account that was disconnected: their metrics are no longer synced`,
    });
  }
  const count = (s: HealthStatus) => byAccount.filter((a) => a.status === s).length;
  return {
    summary: {
      total: byAccount.length,
      healthy: count("healthy"),
      stale: count("stale"),
      needsAttention: count("needsAttention"),
      noData: count("noData"),
      unsupported: count("unsupported"),
      disconnected: count("disconnected"),
    },
    staleAfterHours: STALE_AFTER_HOURS,
    byAccount,
  };
}
