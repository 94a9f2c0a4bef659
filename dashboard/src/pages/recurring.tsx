import { useState } from "preact/hooks";
import { api } from "../api";
import { catalog, type Platform } from "../../../src/platforms/catalog";
import type { Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, Time, useAction, useLoad, zoneOptions } from "../ui";
import type { Connection } from "./connections";
import { NeedsProfile } from "./profiles";

const weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function Occurrences(props: { scheduleId: string }) {
  const state = useLoad(async () => (await api("GET", `/api/v1/recurring-schedules/${props.scheduleId}/occurrences`, { query: { count: 5 } })).occurrences as any[], [props.scheduleId]);
  return (
    <Async state={state} label="Computing the next occurrences…">
      {(list) =>
        list.length === 0 ? (
          <p class="muted small">No further occurrences.</p>
        ) : (
          <ol class="small occurrences">
            {list.map((o) => (
              <li>
                <time dateTime={o.scheduledAt}>{o.localTime.replace("T", " ")}</time>
              </li>
            ))}
          </ol>
        )
      }
    </Async>
  );
}

function RecurringFor(props: { profile: Profile }) {
  const { profile } = props;
  const state = useLoad(async () => (await api("GET", "/api/v1/recurring-schedules", { query: { profileId: profile.id, limit: 100 } })).schedules as any[], [profile.id]);
  const connections = useLoad(async () => (await api("GET", "/api/v1/connections", { query: { profileId: profile.id } })).connections as Connection[], [profile.id]);
  const [name, setName] = useState("");
  const [content, setContent] = useState("");
  const [pattern, setPattern] = useState("weekly");
  const [dayOfWeek, setDayOfWeek] = useState(1);
  const [dayOfMonth, setDayOfMonth] = useState(1);
  const [rrule, setRrule] = useState("FREQ=WEEKLY;BYDAY=MO,WE,FR");
  const [timeOfDay, setTimeOfDay] = useState("09:00");
  const [timezone, setTimezone] = useState(profile.timezone);
  const [platforms, setPlatforms] = useState<string[]>([]);
  const [warnings, setWarnings] = useState<{ message: string }[]>([]);
  const [open, setOpen] = useState<string | undefined>();
  const create = useAction(async () => {
    const recurrenceConfig = pattern === "weekly" ? { day_of_week: dayOfWeek } : pattern === "monthly" ? { day_of_month: dayOfMonth } : pattern === "custom" ? { rrule } : {};
    const res = await api("POST", "/api/v1/recurring-schedules", {
      body: { profileId: profile.id, name, content, platforms, recurrencePattern: pattern, recurrenceConfig, timeOfDay, timezone },
    });
    setWarnings(res.warnings);
    setName("");
    setContent("");
    setOpen(res.schedule.id);
    await state.reload();
  });
  const act = useAction(async (fn: () => Promise<unknown>) => {
    await fn();
    await state.reload();
  });
  const available = [...new Set((connections.data ?? []).map((c) => c.platform))];
  return (
    <>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <h2>New recurring schedule</h2>
        <Field label="Schedule name">{(id) => <input id={id} required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Post text">{(id) => <textarea id={id} rows={3} required value={content} onInput={(e) => setContent(e.currentTarget.value)} />}</Field>
        <fieldset>
          <legend>Networks</legend>
          {available.length === 0 && <p class="muted small">Connect an account first.</p>}
          {available.map((p) => (
            <label class="chip">
              <input type="checkbox" checked={platforms.includes(p)} onChange={(e) => setPlatforms(e.currentTarget.checked ? [...platforms, p] : platforms.filter((x) => x !== p))} />{" "}
              {catalog[p as Platform].displayName}
            </label>
          ))}
        </fieldset>
        <div class="row wrap">
          <Field label="Repeats">
            {(id) => (
              <select id={id} value={pattern} onChange={(e) => setPattern(e.currentTarget.value)}>
                <option value="daily">Daily</option>
                <option value="weekly">Weekly</option>
                <option value="monthly">Monthly</option>
                <option value="custom">Custom (RRULE)</option>
              </select>
            )}
          </Field>
          {pattern === "weekly" && (
            <Field label="On">
              {(id) => (
                <select id={id} value={dayOfWeek} onChange={(e) => setDayOfWeek(Number(e.currentTarget.value))}>
                  {weekdays.map((d, i) => (
                    <option value={i}>{d}</option>
                  ))}
                </select>
              )}
            </Field>
          )}
          {pattern === "monthly" && (
            <Field label="Day of month" hint="In shorter months, a day past the end falls on the last day.">
              {(id) => <input id={id} type="number" min={1} max={31} value={dayOfMonth} onInput={(e) => setDayOfMonth(Number(e.currentTarget.value))} />}
            </Field>
          )}
          {pattern === "custom" && <Field label="RRULE">{(id) => <input id={id} value={rrule} onInput={(e) => setRrule(e.currentTarget.value)} />}</Field>}
          <Field label="At">{(id) => <input id={id} type="time" required value={timeOfDay} onInput={(e) => setTimeOfDay(e.currentTarget.value)} />}</Field>
          <Field label="Time zone">
            {(id) => (
              <select id={id} value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)}>
                {zoneOptions(timezone).map((z) => (
                  <option value={z}>{z}</option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <ErrorBox message={create.error} />
        <button class="btn primary" disabled={create.busy || platforms.length === 0}>
          Create schedule
        </button>
      </form>
      {warnings.length > 0 && (
        <Notice kind="warn">
          {warnings.map((w) => (
            <div>{w.message}</div>
          ))}
        </Notice>
      )}
      <div class="card">
        <h2>Schedules</h2>
        <ErrorBox message={act.error} />
        <Async state={state}>
          {(list) =>
            list.length === 0 ? (
              <Empty>No recurring schedules yet.</Empty>
            ) : (
              <ul class="list">
                {list.map((s) => (
                  <li class="item">
                    <div class="item-main">
                      <div>
                        <strong>{s.name}</strong> <Badge tone={s.is_active ? "ok" : "bad"}>{s.is_active ? "active" : `paused${s.paused_reason ? ` (${s.paused_reason})` : ""}`}</Badge>
                        <div class="muted small">
                          {s.recurrence_pattern} at {s.time_of_day} ({s.timezone}) · {s.platforms.map((p: string) => catalog[p as Platform]?.displayName ?? p).join(", ")} · next{" "}
                          <Time iso={s.next_scheduled_at} timeZone={s.timezone} /> · {s.occurrence_count} posted
                        </div>
                        {s.notes.map((n: string) => (
                          <div class="muted small">{n}</div>
                        ))}
                        {s.last_error && <div class="error-text small">{s.last_error}</div>}
                      </div>
                      <div class="row">
                        <button type="button" class="btn small" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? undefined : s.id)}>
                          Next occurrences
                        </button>
                        <button type="button" class="btn small" onClick={() => void act.run(() => api("PATCH", `/api/v1/recurring-schedules/${s.id}`, { body: { isActive: !s.is_active } }))}>
                          {s.is_active ? "Pause" : "Resume"}
                        </button>
                        <ConfirmButton
                          label="Delete"
                          name={`Delete ${s.name}`}
                          confirm="Delete this schedule and cancel its upcoming posts?"
                          onConfirm={() => act.run(() => api("DELETE", `/api/v1/recurring-schedules/${s.id}`))}
                        />
                      </div>
                    </div>
                    {open === s.id && <Occurrences scheduleId={s.id} />}
                  </li>
                ))}
              </ul>
            )
          }
        </Async>
      </div>
    </>
  );
}

export function Recurring() {
  return (
    <Page title="Recurring schedules" intro="Posts that repeat: daily, weekly, monthly or by a custom rule, in a time zone of your choice.">
      <NeedsProfile>{(p) => <RecurringFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
