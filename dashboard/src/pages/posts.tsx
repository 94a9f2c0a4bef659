import { useState } from "preact/hooks";
import { api } from "../api";
import { catalog, type Platform } from "../../../src/platforms/catalog";
import type { Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Page, statusTone, Time, useAction, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

export interface Post {
  id: string;
  content: string;
  status: string;
  scheduled_for: string | null;
  published_at: string | null;
  created_at: string;
  targets: {
    id: string;
    platform: string;
    status: string;
    external_url: string | null;
    error_message: string | null;
    attempts: number;
    published_at: string | null;
    next_attempt_at: string | null;
  }[];
  media: { id: string; public_url: string; mime_type: string; file_name: string | null }[];
}

const name = (p: string) => catalog[p as Platform]?.displayName ?? p;

async function loadPosts(profileId: string, status?: string): Promise<Post[]> {
  const all: Post[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 5; i++) {
    const page: { posts: Post[]; nextCursor: string | null } = await api("GET", "/api/v1/posts", { query: { profileId, status, limit: 100, cursor } });
    all.push(...page.posts);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return all;
}

export function PostCard(props: { post: Post; profile: Profile; reload: () => void }) {
  const { post, profile } = props;
  const cancel = useAction(async (targetId: string) => {
    await api("DELETE", `/api/v1/scheduled-posts/${targetId}`, { query: { profileId: profile.id } });
    props.reload();
  });
  const retry = useAction(async (targetId: string) => {
    await api("POST", `/api/v1/scheduled-posts/${targetId}/retry`, { body: { profileId: profile.id } });
    props.reload();
  });
  return (
    <article class="post" data-post={post.id}>
      <header class="row spread">
        <Badge tone={statusTone(post.status)}>{post.status.replace("_", " ")}</Badge>
        <span class="muted small">
          {post.scheduled_for ? "Scheduled for " : "Created "}
          <Time iso={post.scheduled_for ?? post.created_at} timeZone={profile.timezone} />
        </span>
      </header>
      <p class="post-text">{post.content || <em class="muted">(media only)</em>}</p>
      {post.media.length > 0 && <p class="muted small">📎 {post.media.map((m) => m.file_name ?? m.mime_type).join(", ")}</p>}
      <ul class="targets">
        {post.targets.map((t) => (
          <li data-target={t.platform}>
            <strong>{name(t.platform)}</strong> <Badge tone={statusTone(t.status)}>{t.status}</Badge>
            {t.external_url && (
              <>
                {" "}
                <a href={t.external_url} target="_blank" rel="noopener noreferrer">
                  View live post<span class="sr-only"> on {name(t.platform)}</span>
                </a>
              </>
            )}
            {t.error_message && <div class="error-text small">{t.error_message}</div>}
            {t.next_attempt_at && t.attempts > 0 && (
              <div class="muted small">
                Next attempt <Time iso={t.next_attempt_at} timeZone={profile.timezone} />
              </div>
            )}
            <span class="row">
              {t.status === "pending" && (
                <ConfirmButton label="Cancel" name={`Cancel ${name(t.platform)}`} confirm="Cancel this scheduled post?" onConfirm={() => cancel.run(t.id)} />
              )}
              {t.status === "failed" && (
                <button type="button" class="btn small" disabled={retry.busy} onClick={() => void retry.run(t.id)} aria-label={`Retry ${name(t.platform)}`}>
                  Retry
                </button>
              )}
            </span>
          </li>
        ))}
      </ul>
      <ErrorBox message={cancel.error ?? retry.error} />
    </article>
  );
}

function ListFor(props: { profile: Profile }) {
  const [status, setStatus] = useState("");
  const state = useLoad(() => loadPosts(props.profile.id, status || undefined), [props.profile.id, status]);
  return (
    <>
      <div class="toolbar">
        <Field label="Status">
          {(id) => (
            <select id={id} value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              <option value="">All</option>
              {["scheduled", "publishing", "published", "partially_published", "failed", "canceled"].map((s) => (
                <option value={s}>{s.replace("_", " ")}</option>
              ))}
            </select>
          )}
        </Field>
        <button type="button" class="btn small" onClick={() => void state.reload()}>
          Refresh
        </button>
      </div>
      <Async state={state}>
        {(posts) =>
          posts.length === 0 ? (
            <Empty>
              No posts{status ? ` with status ${status}` : ""}. <a href="/app/compose">Compose one</a>.
            </Empty>
          ) : (
            <div class="posts">
              {posts.map((p) => (
                <PostCard key={p.id} post={p} profile={props.profile} reload={() => void state.reload()} />
              ))}
            </div>
          )
        }
      </Async>
    </>
  );
}

export function PostsList() {
  return (
    <Page title="Posts" intro="Scheduled, published and failed posts with each network's result.">
      <NeedsProfile>{(p) => <ListFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}

/** yyyy-mm-dd of an instant in a time zone. */
function dayKey(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
}

function CalendarFor(props: { profile: Profile }) {
  const { profile } = props;
  const tz = profile.timezone;
  const [view, setView] = useState<"month" | "week">("month");
  const [anchor, setAnchor] = useState(() => new Date());
  const [selected, setSelected] = useState<string | undefined>();
  const state = useLoad(() => loadPosts(profile.id), [profile.id]);
  const today = dayKey(new Date().toISOString(), tz);
  const [y, m, d] = dayKey(anchor.toISOString(), tz).split("-").map(Number) as [number, number, number];
  // Days shown, as UTC-noon dates for the calendar arithmetic (each stands for a wall-clock day in the zone).
  const days: Date[] = [];
  if (view === "month") {
    const first = new Date(Date.UTC(y, m - 1, 1, 12));
    const start = new Date(first.getTime() - ((first.getUTCDay() + 6) % 7) * 86_400_000);
    for (let i = 0; i < 42; i++) days.push(new Date(start.getTime() + i * 86_400_000));
  } else {
    const cur = new Date(Date.UTC(y, m - 1, d, 12));
    const start = new Date(cur.getTime() - ((cur.getUTCDay() + 6) % 7) * 86_400_000);
    for (let i = 0; i < 7; i++) days.push(new Date(start.getTime() + i * 86_400_000));
  }
  const move = (dir: number) => {
    const next = new Date(anchor);
    if (view === "month") next.setUTCMonth(next.getUTCMonth() + dir, 1);
    else next.setUTCDate(next.getUTCDate() + 7 * dir);
    setAnchor(next);
  };
  const title = new Date(Date.UTC(y, m - 1, 1, 12)).toLocaleString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
  return (
    <>
      <div class="toolbar">
        <div class="row" role="group" aria-label="View">
          <button type="button" class={`btn small ${view === "month" ? "primary" : ""}`} aria-pressed={view === "month"} onClick={() => setView("month")}>
            Month
          </button>
          <button type="button" class={`btn small ${view === "week" ? "primary" : ""}`} aria-pressed={view === "week"} onClick={() => setView("week")}>
            Week
          </button>
        </div>
        <div class="row">
          <button type="button" class="btn small" onClick={() => move(-1)} aria-label="Previous">
            ‹
          </button>
          <h2 class="h3 cal-title">{title}</h2>
          <button type="button" class="btn small" onClick={() => move(1)} aria-label="Next">
            ›
          </button>
          <button type="button" class="btn small ghost" onClick={() => setAnchor(new Date())}>
            Today
          </button>
          <button type="button" class="btn small ghost" onClick={() => void state.reload()}>
            Refresh
          </button>
        </div>
      </div>
      <p class="muted small">Times in the profile's time zone: {tz}</p>
      <Async state={state}>
        {(posts) => {
          const byDay = new Map<string, Post[]>();
          for (const p of posts) {
            const at = p.scheduled_for ?? p.published_at ?? p.created_at;
            const key = dayKey(at, tz);
            byDay.set(key, [...(byDay.get(key) ?? []), p]);
          }
          const chosen = selected ? (byDay.get(selected) ?? []) : [];
          return (
            <>
              <div class={`calendar ${view}`} role="grid" aria-label={`${view} calendar`}>
                <div class="cal-row" role="row">
                  {["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map((w) => (
                    <div class="cal-head" role="columnheader">
                      {w}
                    </div>
                  ))}
                </div>
                {Array.from({ length: days.length / 7 }, (_, row) => (
                  <div class="cal-row" role="row">
                    {days.slice(row * 7, row * 7 + 7).map((day) => {
                      const key = day.toISOString().slice(0, 10);
                      const list = byDay.get(key) ?? [];
                      const outside = view === "month" && day.getUTCMonth() !== m - 1;
                      return (
                        <div role="gridcell" class={`cal-cell ${outside ? "outside" : ""} ${key === today ? "today" : ""} ${selected === key ? "selected" : ""}`}>
                          <button type="button" class="cal-day" onClick={() => setSelected(key)}>
                            {day.getUTCDate()}
                            <span class="sr-only">
                              {" "}
                              {day.toLocaleString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" })}: {list.length} post{list.length === 1 ? "" : "s"}
                            </span>
                          </button>
                          {list.slice(0, view === "week" ? 20 : 3).map((p) => (
                            <button type="button" class={`cal-post ${statusTone(p.status)}`} data-status={p.status} onClick={() => setSelected(key)}>
                              {new Date(p.scheduled_for ?? p.published_at ?? p.created_at).toLocaleTimeString("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit" })}{" "}
                              {p.content.slice(0, 24) || "(media)"}
                              <span class="sr-only"> — {p.status}</span>
                            </button>
                          ))}
                          {view === "month" && list.length > 3 && <span class="muted small">+{list.length - 3} more</span>}
                        </div>
                      );
                    })}
                  </div>
                ))}
              </div>
              {selected && (
                <div class="card">
                  <h2 class="h3">Posts on {selected}</h2>
                  {chosen.length === 0 ? (
                    <Empty>Nothing on this day.</Empty>
                  ) : (
                    chosen.map((p) => <PostCard key={p.id} post={p} profile={profile} reload={() => void state.reload()} />)
                  )}
                </div>
              )}
              {posts.length === 0 && (
                <Empty>
                  Nothing scheduled yet. <a href="/app/compose">Compose a post</a>.
                </Empty>
              )}
            </>
          );
        }}
      </Async>
    </>
  );
}

export function Calendar() {
  return (
    <Page title="Calendar" intro="Scheduled and published posts by day.">
      <NeedsProfile>{(p) => <CalendarFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
