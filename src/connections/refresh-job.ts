import { log } from "../core/log.js";
import type { ServiceDb } from "../core/pg.js";
import { PlatformError } from "../platforms/types.js";
import { EXPIRY_WARNINGS, LONG_LIVED_ACCESS_MS, POST_LOOKAHEAD_MS, RENEW_AHEAD_MS, tokenPolicy } from "./health.js";
import { platformIds } from "../platforms/catalog.js";
import { lockTokenRow, markNeedsReconnect, refreshTokenRow } from "./tokens.js";

/** The job itself (its name, period and message) is ./token-health-job.ts, which loads this module on its first run. */
export { TOKEN_HEALTH_PERIOD_SECONDS, tokenHealthJob } from "./token-health-job.js";
/** Refresh tokens with no known expiry (X, Google, Reddit) are exercised this often: revocations surface early, and Google's unused ones do not lapse. */
const EXERCISE_AFTER_MS = 7 * 24 * 3600_000;
/** Refreshes per run; the rest wait for the next run (5 minutes later), long before any of them is due. */
const BATCH = 200;

const renewing = platformIds.filter((p) => tokenPolicy(p).refreshRenews);

export interface TokenHealthReport {
  refreshed: number;
  failed: number;
  expired: number;
  warned: number;
}

/**
 * The refresh-ahead job's one run at `now` (the home's clock):
 * 1. Connections whose authorization has run out for good (no refresh token and the access token expired; a
 *    refresh token past its stated expiry) are marked needs_reconnect with the reason, which sends
 *    `connection.needs_reconnect` as a rejected refresh does.
 * 2. Tokens are refreshed ahead of time, each through THE refresh (`refreshTokenRow`, src/connections/tokens.ts):
 *    a renewable refresh token (Meta's long-lived tokens, TikTok, Pinterest, Bluesky sessions) with under 7 days left;
 *    a long-lived access token (a day or more: LinkedIn, Pinterest, TikTok) in the last quarter of its life; a
 *    short-lived one (X, Google, Reddit, Bluesky) when a post is due within 15 minutes and it would lapse by then; a
 *    refresh token with no stated expiry that has not been used for 7 days. A rejected refresh marks the connection
 *    needs_reconnect; a transient failure is retried on the next run.
 * 3. `connection.expiring` is sent 7 days and 1 day before a connection that nothing but a reconnect can renew stops
 *    working (once each per expiry), with the scheduled posts that would miss it.
 */
export async function runTokenHealth(serviceDb: ServiceDb, now: Date): Promise<TokenHealthReport> {
  const report: TokenHealthReport = { refreshed: 0, failed: 0, expired: 0, warned: 0 };

  // 1. Authorizations that ran out.
  const dead = await serviceDb((tx) => tx<{ id: string; refresh_token_expires_at: Date | null; usable_until: Date | null; has_refresh_token: boolean }[]>`
    select id, refresh_token_expires_at, usable_until, has_refresh_token from public.connections
    where status = 'connected' and (usable_until <= ${now} or (refresh_token_enc is not null and refresh_token_expires_at <= ${now}))
    limit ${BATCH}`);
  for (const c of dead) {
    const at = (c.has_refresh_token ? c.refresh_token_expires_at ?? c.usable_until : c.usable_until)!;
    const reason = c.has_refresh_token
      ? `The network's authorization (refresh token) expired at ${at.toISOString()}: reconnect the account`
      : `The access token expired at ${at.toISOString()} and the network gives no refresh token: reconnect the account`;
    await serviceDb((tx) => markNeedsReconnect(tx, c.id, reason));
    report.expired++;
  }

  // 2. Refreshes ahead of time.
  const lookahead = new Date(now.getTime() + POST_LOOKAHEAD_MS);
  const due = await serviceDb((tx) => tx<{ id: string; why: string; access_token_enc: string }[]>`
    select c.id, c.access_token_enc, case
        when c.platform = any(${renewing}) and c.refresh_token_expires_at < ${new Date(now.getTime() + RENEW_AHEAD_MS)} then 'renew'
        when c.token_expires_at is not null and c.token_expires_at < ${lookahead} then 'post due'
        when c.refresh_token_expires_at is null and coalesce(c.tokens_refreshed_at, c.created_at) < ${new Date(now.getTime() - EXERCISE_AFTER_MS)} then 'exercise'
        else 'last quarter' end as why
    from public.connections c
    where c.status = 'connected' and c.refresh_token_enc is not null
      and (c.refresh_token_expires_at is null or c.refresh_token_expires_at > ${now})
      and (
        (c.platform = any(${renewing}) and c.refresh_token_expires_at < ${new Date(now.getTime() + RENEW_AHEAD_MS)})
        -- (Instagram's and Threads' long-lived token is its own refresh token: the 7-day rule above renews it.)
        or (c.token_expires_at is distinct from c.refresh_token_expires_at
            and c.token_expires_at - coalesce(c.tokens_refreshed_at, c.created_at) >= ${`${LONG_LIVED_ACCESS_MS / 1000} seconds`}::interval
            and c.token_expires_at < ${now}::timestamptz + (c.token_expires_at - coalesce(c.tokens_refreshed_at, c.created_at)) / 4)
        or (c.token_expires_at < ${new Date(lookahead.getTime() + 5 * 60_000)} and exists (
              select 1 from public.post_targets t
              where t.connection_id = c.id and t.status = 'pending' and coalesce(t.scheduled_for, t.due_at) <= ${lookahead}))
        or (c.refresh_token_expires_at is null and coalesce(c.tokens_refreshed_at, c.created_at) < ${new Date(now.getTime() - EXERCISE_AFTER_MS)})
      )
    order by least(c.token_expires_at, c.refresh_token_expires_at) nulls last
    limit ${BATCH}`);
  for (const c of due) {
    try {
      const outcome = await serviceDb(async (tx) => {
        const row = await lockTokenRow(tx, c.id);
        if (!row || row.status !== "connected") return "skipped";
        // Two runs can overlap (a slow run and the next, a run and a publish's own refresh): one that waited for the
        // lock finds the token already changed since it chose the row, and refreshing again would only spend a call.
        if (row.access_token_enc !== c.access_token_enc) return "skipped";
        return refreshTokenRow(tx, row, "The access token is expiring and the network gave no refresh token");
      });
      if (outcome instanceof PlatformError) report.failed++;
      else if (outcome !== "skipped") report.refreshed++;
    } catch (error) {
      // Transient (the network is down, rate limited): the next run tries again, well before the token lapses.
      log.warn("a token refresh ahead of time failed; it is retried on the next run", { connectionId: c.id, why: c.why, error: String(error) });
      report.failed++;
    }
  }

  // 3. Warnings before a connection that cannot be renewed stops working: 7 days, then 1 day before, once each.
  for (const [i, warning] of EXPIRY_WARNINGS.entries()) {
    const after = EXPIRY_WARNINGS[i + 1]?.ms ?? 0; // the 7-day warning is not sent once the 1-day one is due
    const column = warning.column;
    const sent = await serviceDb((tx) => tx`
      with due as (
        select c.id from public.connections c
        where c.status = 'connected' and c.usable_until > ${new Date(now.getTime() + after)}
          and c.usable_until <= ${new Date(now.getTime() + warning.ms)}
          and c.${tx(column)} is distinct from c.usable_until
        for update skip locked
      ), marked as (
        update public.connections c set ${tx(column)} = c.usable_until
        from due where c.id = due.id
        returning c.id, c.profile_id, c.platform, c.username, c.external_account_id, c.usable_until, c.has_refresh_token
      )
      insert into public.events (profile_id, event_type, payload)
      select m.profile_id, 'connection.expiring', jsonb_build_object(
        'event_type', 'connection.expiring',
        'timestamp', to_char(${now}::timestamptz at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'profile_id', m.profile_id,
        'data', jsonb_build_object(
          'connection_id', m.id, 'platform', m.platform, 'username', m.username,
          'external_account_id', m.external_account_id,
          'expires_at', to_char(m.usable_until at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'days_before', ${warning.days}::int,
          'reason', case when m.has_refresh_token
            then 'The network''s refresh token expires then and refreshing does not extend it: reconnect the account before then'
            else 'The access token expires then and the network gives no refresh token: reconnect the account before then' end,
          'scheduled_posts', (select count(*)::int from public.post_targets t
                              where t.connection_id = m.id and t.status = 'pending'
                                and coalesce(t.scheduled_for, t.due_at) >= m.usable_until)))
      from marked m
      returning id`);
    report.warned += sent.count;
  }
  return report;
}
