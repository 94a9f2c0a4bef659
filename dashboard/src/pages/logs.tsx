import { useMemo, useState } from "preact/hooks";
import { api } from "../api";
import { catalog, platformIds, type Platform } from "../../../src/platforms/catalog";
import { Chart } from "../chart";
import type { Profile } from "../state";
import { Async, Badge, Empty, Field, Page, statusTone, Time, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

interface Metric {
  platform: string;
  date: string;
  total_jobs: number;
  successful_jobs: number;
  failed_jobs: number;
  retried_jobs: number;
  rate_limited_jobs: number;
  avg_duration_ms: number | null;
}

function Metrics(props: { profile: Profile; platform: string }) {
  const [days, setDays] = useState(30);
  const state = useLoad(
    async () => (await api("GET", "/api/v1/delivery-metrics", { query: { profileId: props.profile.id, days, platform: props.platform || undefined } })).metrics as Metric[],
    [props.profile.id, days, props.platform],
  );
  return (
    <div class="card">
      <div class="row spread">
        <h2>Delivery metrics</h2>
        <Field label="Period">
          {(id) => (
            <select id={id} value={days} onChange={(e) => setDays(Number(e.currentTarget.value))}>
              {[7, 30, 90].map((d) => (
                <option value={d}>Last {d} days</option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <Async state={state}>
        {(metrics) => <MetricsView metrics={metrics} days={days} />}
      </Async>
    </div>
  );
}

function MetricsView(props: { metrics: Metric[]; days: number }) {
  const { metrics } = props;
  const chart = useMemo(() => {
    // Every UTC day of the window, zeros included, so the axis spans the period asked for.
    const dates = Array.from({ length: props.days }, (_, i) => new Date(Date.now() - (props.days - 1 - i) * 86_400_000).toISOString().slice(0, 10));
    const sum = (date: string, k: keyof Metric) => metrics.filter((m) => m.date === date).reduce((a, m) => a + (m[k] as number), 0);
    return {
      x: dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000),
      series: [
        { label: "Succeeded", values: dates.map((d) => sum(d, "successful_jobs")) },
        { label: "Failed", values: dates.map((d) => sum(d, "failed_jobs")) },
        { label: "Rate limited", values: dates.map((d) => sum(d, "rate_limited_jobs")) },
      ],
    };
  }, [metrics, props.days]);
  if (metrics.length === 0) return <Empty>No publish attempts in this period.</Empty>;
  const total = metrics.reduce((a, m) => a + m.total_jobs, 0);
  const ok = metrics.reduce((a, m) => a + m.successful_jobs, 0);
  return (
    <>
      <p>
        {total} attempts, {total ? Math.round((ok / total) * 100) : 0}% succeeded (days in UTC).
      </p>
      <Chart title="Publish attempts per day" x={chart.x} series={chart.series} bars />
    </>
  );
}

function LogsFor(props: { profile: Profile }) {
  const [platform, setPlatform] = useState("");
  const [status, setStatus] = useState("");
  const state = useLoad(
    async () =>
      (await api("GET", "/api/v1/job-logs", { query: { profileId: props.profile.id, platform: platform || undefined, status: status || undefined, limit: 100 } })).logs as any[],
    [props.profile.id, platform, status],
  );
  return (
    <>
      <div class="toolbar">
        <Field label="Network">
          {(id) => (
            <select id={id} value={platform} onChange={(e) => setPlatform(e.currentTarget.value)}>
              <option value="">All networks</option>
              {platformIds.map((p) => (
                <option value={p}>{catalog[p].displayName}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Outcome">
          {(id) => (
            <select id={id} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">All</option>
              <option value="success">Success</option>
              <option value="failed">Failed</option>
              <option value="rate_limited">Rate limited</option>
            </select>
          )}
        </Field>
      </div>
      <Metrics profile={props.profile} platform={platform} />
      <div class="card">
        <h2>Job logs</h2>
        <Async state={state}>
          {(logs) =>
            logs.length === 0 ? (
              <Empty>No publish attempts yet.</Empty>
            ) : (
              <div class="table-wrap">
                <table>
                  <caption class="sr-only">Publish attempts, newest first</caption>
                  <thead>
                    <tr>
                      <th scope="col">When ({props.profile.timezone})</th>
                      <th scope="col">Network</th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Attempt</th>
                      <th scope="col">Duration</th>
                      <th scope="col">Error</th>
                    </tr>
                  </thead>
                  <tbody>
                    {logs.map((l) => (
                      <tr>
                        <td>{new Date(l.started_at).toLocaleString("en-GB", { timeZone: props.profile.timezone, dateStyle: "short", timeStyle: "medium" })}</td>
                        <td>{catalog[l.platform as Platform]?.displayName ?? l.platform}</td>
                        <td>
                          <Badge tone={statusTone(l.status)}>{l.status}</Badge>
                          {l.will_retry && <span class="muted small"> will retry</span>}
                        </td>
                        <td>{l.attempt_number}</td>
                        <td>{l.duration_ms} ms</td>
                        <td class="small">{l.error_message ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Async>
      </div>
    </>
  );
}

export function Logs() {
  return (
    <Page title="Logs & delivery" intro="Every publish attempt and the daily delivery rate.">
      <NeedsProfile>{(p) => <LogsFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
