import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { catalog, type Platform } from "../../../src/platforms/catalog";
import { Chart } from "../chart";
import type { Profile } from "../state";
import { Async, Badge, Empty, ErrorBox, Field, Notice, Page, statusTone, Time, useAction, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

const name = (p: string) => catalog[p as Platform]?.displayName ?? p;
const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const pct = (n: number | null | undefined) => (n === null || n === undefined ? "—" : `${(n * 100).toFixed(1)}%`);

function Timeline(props: { series: any[] }) {
  const data = useMemo(() => {
    const dates = [...new Set(props.series.map((s) => s.date))].sort();
    const sum = (d: string, k: string) => props.series.filter((s) => s.date === d).reduce((a, s) => a + s[k], 0);
    return {
      x: dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000),
      series: [
        { label: "Impressions", values: dates.map((d) => sum(d, "impressions")) },
        { label: "Engagements", values: dates.map((d) => sum(d, "engagements")) },
      ],
    };
  }, [props.series]);
  if (!props.series.length) return <Empty>No metrics in this window yet: they arrive after posts publish and the sync runs.</Empty>;
  return <Chart title="Impressions and engagements per day" x={data.x} series={data.series} />;
}

function Heatmap(props: { slots: any[]; timezone: string }) {
  if (!props.slots.length) return <Empty>Not enough published posts with metrics to learn the best times yet.</Empty>;
  const max = Math.max(...props.slots.map((s) => s.score), 0.0001);
  const at = (d: number, h: number) => props.slots.find((s) => s.dayOfWeek === d && s.hourOfDay === h);
  return (
    <div class="table-wrap">
      <table class="heat">
        <caption>Best posting times ({props.timezone}); darker is better</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {Array.from({ length: 24 }, (_, h) => (
              <th scope="col" class="small">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((d, di) => (
            <tr>
              <th scope="row">{d}</th>
              {Array.from({ length: 24 }, (_, h) => {
                const s = at(di, h);
                const level = s ? Math.max(0.12, s.score / max) : 0;
                return (
                  <td class="hm-cell" title={s ? `${d} ${h}:00 — score ${s.score.toFixed(2)}, ${s.posts} posts, ${s.confidenceLevel} confidence` : `${d} ${h}:00 — no data`}>
                    <span class="hm" style={{ opacity: String(level) }} />
                    <span class="sr-only">{s ? `score ${s.score.toFixed(2)}` : "no data"}</span>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AnalyticsFor(props: { profile: Profile }) {
  const { profile } = props;
  const [window, setWindow] = useState(30);
  const q = { profileId: profile.id, days: window };
  const state = useLoad(async () => {
    const [timeline, best, frequency, decay, health] = await Promise.all([
      api("GET", "/api/analytics/post-timeline", { query: q }),
      api("GET", "/api/analytics/best-time", { query: q }),
      api("GET", "/api/analytics/posting-frequency", { query: q }),
      api("GET", "/api/analytics/content-decay", { query: q }),
      api("GET", "/api/analytics/sync-health", { query: { profileId: profile.id } }),
    ]);
    return { timeline: timeline.timeline, best: best.bestTime, frequency: frequency.frequency, decay: decay.decay, health };
  }, [profile.id, window]);
  const sync = useAction(async () => {
    const res = await api("POST", "/api/v1/analytics/sync", { query: { profileId: profile.id } });
    setMessage(res.message);
  });
  const [message, setMessage] = useState<string | undefined>();
  return (
    <>
      <div class="toolbar">
        <Field label="Window">
          {(id) => (
            <select id={id} value={window} onChange={(e) => setWindow(Number(e.currentTarget.value))}>
              {[7, 30, 90, 180].map((d) => (
                <option value={d}>Last {d} days</option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" class="btn" disabled={sync.busy} onClick={() => void sync.run()}>
          Sync metrics now
        </button>
      </div>
      {message && <Notice kind="ok">{message}</Notice>}
      <ErrorBox message={sync.error} />
      <Async state={state} label="Loading analytics…">
        {(d) => (
          <>
            <div class="card">
              <h2>Timeline</h2>
              <Timeline series={d.timeline.series} />
            </div>
            <div class="card">
              <h2>Best time to post</h2>
              <p class="muted small">{d.best.postsAnalysed} posts analysed; baseline engagement rate {pct(d.best.baselineEngagementRate)}.</p>
              <Heatmap slots={d.best.slots} timezone={d.best.timezone} />
            </div>
            <div class="card">
              <h2>Posting frequency</h2>
              <p>
                {d.frequency.totalPosts} posts, {d.frequency.postsPerWeek.toFixed(1)} a week.
              </p>
              {d.frequency.totalPosts > 0 ? (
                <Chart
                  title={`Posts by weekday (${d.frequency.timezone})`}
                  x={d.frequency.byWeekday.map((w: any) => w.dayOfWeek)}
                  series={[{ label: "Posts", values: d.frequency.byWeekday.map((w: any) => w.posts) }]}
                  bars
                  height={200}
                />
              ) : (
                <Empty>No posts in this window.</Empty>
              )}
              <ul class="plain small">
                {d.frequency.byPlatform.map((p: any) => (
                  <li>
                    {name(p.platform)}: {p.posts} posts ({pct(p.share)})
                  </li>
                ))}
              </ul>
            </div>
            <div class="card">
              <h2>Content decay</h2>
              {d.decay.platforms.length === 0 ? (
                <Empty>No decay data yet: it needs several metric snapshots per post.</Empty>
              ) : (
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Network</th>
                        <th scope="col">Posts</th>
                        <th scope="col">Median hours to peak</th>
                        <th scope="col">Median half-life (h)</th>
                        <th scope="col">Share after 24 h</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.decay.platforms.map((p: any) => (
                        <tr>
                          <td>{name(p.platform)}</td>
                          <td>{p.posts}</td>
                          <td>{p.medianHoursToPeak ?? "—"}</td>
                          <td>{p.medianHalfLifeHours ?? "—"}</td>
                          <td>{pct(p.shareAfter24h)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
            <div class="card">
              <h2>Sync health</h2>
              <p class="small">
                {d.health.summary.total} accounts: {d.health.summary.healthy} healthy, {d.health.summary.stale} stale, {d.health.summary.needsAttention} need attention,{" "}
                {d.health.summary.unsupported} unsupported.
              </p>
              {d.health.byAccount.length === 0 ? (
                <Empty>No connected accounts.</Empty>
              ) : (
                <ul class="list">
                  {d.health.byAccount.map((a: any) => (
                    <li class="item">
                      <strong>{name(a.platform)}</strong> {a.username} <Badge tone={a.status === "healthy" ? "ok" : a.status === "needsAttention" || a.status === "disconnected" ? "bad" : "info"}>{a.status}</Badge>
                      <div class="muted small">
                        last metrics <Time iso={a.lastMetricAt} timeZone={profile.timezone} />
                        {a.reason && ` · ${a.reason}`}
                        {a.lastError && <span class="error-text"> · {a.lastError}</span>}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          </>
        )}
      </Async>
    </>
  );
}

export function Analytics() {
  return (
    <Page title="Analytics" intro="Reach and engagement from the networks that report it, the best times to post, and how fresh the numbers are.">
      <NeedsProfile>{(p) => <AnalyticsFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
