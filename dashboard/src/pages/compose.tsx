import { useMemo, useRef, useState } from "preact/hooks";
import { api, uploadWithProgress } from "../api";
import { catalog, type Platform } from "../../../src/platforms/catalog";
import { checkPostRules, textLength } from "../../../src/posts/rules";
import { isMediaType, mediaSizeViolations, mediaTypeIds, uploadViolations } from "../../../src/media/limits";
import type { Profile } from "../state";
import { Async, Badge, Empty, ErrorBox, Field, Notice, Page, statusTone, useAction, useLoad, viewerTimeZone, zoneOptions } from "../ui";
import type { Connection } from "./connections";
import { NeedsProfile } from "./profiles";
import { TemplatePicker, type TemplateChoice } from "./extra";

interface Attached {
  key: string;
  id?: string;
  name: string;
  mimeType: string;
  fileSize: number;
  preview: string;
  progress: number;
  error?: string;
}


function pad(n: number) {
  return String(n).padStart(2, "0");
}

/** Wall-clock date and time parts of an instant in a time zone (for the schedule inputs' defaults). */
function wallClock(at: Date, timeZone: string): { date: string; time: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

function Checks(props: { platforms: Platform[]; content: string; media: Attached[]; scheduled: boolean }) {
  const violations = useMemo(() => {
    const media = props.media.filter((m) => !m.error);
    return [
      ...checkPostRules({ platforms: props.platforms, content: props.content, media: media.map((m) => ({ mimeType: m.mimeType })), scheduled: props.scheduled }),
      ...mediaSizeViolations(props.platforms, media.map((m) => ({ mimeType: m.mimeType, fileSize: m.fileSize }))),
    ];
  }, [props.platforms, props.content, props.media, props.scheduled]);
  const general = violations.filter((v) => !v.platform);
  return (
    <div class="checks" aria-live="polite">
      <h2 class="h3">Checks per network</h2>
      {props.platforms.length === 0 && <p class="muted small">Choose at least one network.</p>}
      <ul class="plain">
        {general.map((v) => (
          <li class="check bad">✗ {v.message}</li>
        ))}
        {props.platforms.map((p) => {
          const mine = violations.filter((v) => v.platform === p);
          const max = catalog[p].publish.maxTextLength;
          const length = textLength(p, props.content);
          return (
            <li class={`check ${mine.length ? "bad" : "ok"}`} data-check={p}>
              <strong>{catalog[p].displayName}</strong>{" "}
              <span class="muted small">
                {length}
                {max !== null ? ` / ${max}` : ""} characters{p === "twitter" ? " (weighted)" : ""}
              </span>{" "}
              {mine.length === 0 ? <Badge tone="ok">ready</Badge> : mine.map((v) => <div class="small">✗ {v.message}</div>)}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

export function Composer(props: { profile: Profile; connections: Connection[] }) {
  const { profile, connections } = props;
  const connected = useMemo(() => [...new Set(connections.map((c) => c.platform))], [connections]);
  const [platforms, setPlatforms] = useState<Platform[]>(() => connections.filter((c) => c.readiness.canPublish).map((c) => c.platform).filter((p, i, a) => a.indexOf(p) === i));
  const [content, setContent] = useState("");
  const [media, setMedia] = useState<Attached[]>([]);
  const [when, setWhen] = useState<"now" | "later">("now");
  const initial = wallClock(new Date(Date.now() + 60 * 60_000), profile.timezone);
  const [date, setDate] = useState(initial.date);
  const [time, setTime] = useState(initial.time);
  const [timezone, setTimezone] = useState(profile.timezone || viewerTimeZone());
  const [template, setTemplate] = useState<TemplateChoice | undefined>();
  const [result, setResult] = useState<any>();
  // One key per draft: a double click or a retried request posts once; a new draft gets a new key.
  const idempotencyKey = useRef(crypto.randomUUID());
  const fileInput = useRef<HTMLInputElement>(null);

  const uploading = media.some((m) => !m.id && !m.error);
  const ready = media.filter((m) => m.id);

  async function attach(files: FileList | null) {
    for (const file of Array.from(files ?? [])) {
      const key = crypto.randomUUID();
      const item: Attached = { key, name: file.name, mimeType: file.type, fileSize: file.size, preview: URL.createObjectURL(file), progress: 0 };
      const update = (patch: Partial<Attached>) => setMedia((all) => all.map((m) => (m.key === key ? { ...m, ...patch } : m)));
      setMedia((all) => [...all, item]);
      const local = isMediaType(file.type) ? uploadViolations(connected, file.type, file.size) : [{ message: `Unsupported type ${file.type || "(unknown)"}; use ${mediaTypeIds.join(", ")}` }];
      if (local.length) {
        update({ error: local.map((v) => v.message).join("; ") });
        continue;
      }
      try {
        const res = await api("POST", "/api/v1/media/upload-url", { body: { profileId: profile.id, fileName: file.name, contentType: file.type, fileSize: file.size } });
        await uploadWithProgress(res.upload.signedUrl, file, (progress) => update({ progress }));
        update({ id: res.media.id, progress: 1 });
      } catch (e) {
        update({ error: (e as Error).message });
      }
    }
    if (fileInput.current) fileInput.current.value = "";
  }

  const submit = useAction(async () => {
    const body: Record<string, unknown> = { profileId: profile.id, platforms, media: ready.map((m) => ({ id: m.id })) };
    if (template) Object.assign(body, { templateId: template.id, variables: template.variables });
    else body.content = content;
    if (when === "later") Object.assign(body, { scheduleDate: `${date}T${time}`, timezone });
    const res = await api("POST", "/api/v1/post", { body, headers: { "idempotency-key": idempotencyKey.current } });
    setResult(res);
    idempotencyKey.current = crypto.randomUUID();
    setContent("");
    setMedia([]);
  });

  const toggle = (p: Platform) => setPlatforms((all) => (all.includes(p) ? all.filter((x) => x !== p) : [...all, p]));
  const blocking =
    platforms.length === 0 ||
    uploading ||
    (!template &&
      (checkPostRules({ platforms, content, media: ready.map((m) => ({ mimeType: m.mimeType })), scheduled: when === "later" }).length > 0 ||
        mediaSizeViolations(platforms, ready.map((m) => ({ mimeType: m.mimeType, fileSize: m.fileSize }))).length > 0)) ||
    (!template && !content.trim() && ready.length === 0);

  if (connections.length === 0)
    return (
      <Empty>
        Connect an account first: <a href="/app/connections">Connections</a>.
      </Empty>
    );
  return (
    <div class="compose">
      {result && (
        <Notice kind="ok">
          {result.scheduled ? (
            <>Scheduled for {new Date(result.scheduledAt).toLocaleString("en-GB", { timeZone: timezone, dateStyle: "medium", timeStyle: "short" })} ({timezone}).</>
          ) : (
            <>
              Posted: {result.status}.{" "}
              {result.targets?.map((t: any) => (
                <span>
                  {catalog[t.platform as Platform]?.displayName ?? t.platform} <Badge tone={statusTone(t.status)}>{t.status}</Badge>{" "}
                  {t.url && (
                    <a href={t.url} target="_blank" rel="noopener noreferrer">
                      view
                    </a>
                  )}{" "}
                </span>
              ))}
            </>
          )}{" "}
          <a href="/app/calendar">See the calendar</a>
        </Notice>
      )}
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void submit.run();
        }}
      >
        <fieldset class="networks">
          <legend>Networks</legend>
          {connections.map((c) => (
            <label class="chip">
              <input type="checkbox" checked={platforms.includes(c.platform)} onChange={() => toggle(c.platform)} disabled={!c.readiness.canPublish} />{" "}
              {catalog[c.platform].displayName} <span class="muted small">{c.username}</span>
              {!c.readiness.canPublish && <span class="muted small"> (not ready)</span>}
            </label>
          ))}
        </fieldset>
        <TemplatePicker profile={profile} value={template} onChange={setTemplate} />
        {!template && (
          <Field label="Post text">
            {(id) => <textarea id={id} rows={6} value={content} onInput={(e) => setContent(e.currentTarget.value)} placeholder="What do you want to share?" />}
          </Field>
        )}
        <div class="field">
          <label for="media-input">Media (one image or one video)</label>
          <input id="media-input" ref={fileInput} type="file" accept={mediaTypeIds.join(",")} onChange={(e) => void attach(e.currentTarget.files)} />
          <ul class="media-list">
            {media.map((m) => (
              <li>
                {m.mimeType.startsWith("image/") ? <img src={m.preview} alt={`Preview of ${m.name}`} /> : <span class="file">{m.name}</span>}
                <div>
                  <div class="small">{m.name}</div>
                  {m.error ? (
                    <span class="error-text small" role="alert">{m.error}</span>
                  ) : (
                    <progress max={1} value={m.progress} aria-label={`Upload of ${m.name}`}>
                      {Math.round(m.progress * 100)}%
                    </progress>
                  )}
                  {m.id && <span class="small"> uploaded</span>}
                </div>
                <button type="button" class="btn small ghost" onClick={() => setMedia((all) => all.filter((x) => x.key !== m.key))} aria-label={`Remove ${m.name}`}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
        </div>
        {!template && <Checks platforms={platforms} content={content} media={media} scheduled={when === "later"} />}
        <fieldset class="when">
          <legend>When</legend>
          <label class="chip">
            <input type="radio" name="when" checked={when === "now"} onChange={() => setWhen("now")} /> Publish now
          </label>
          <label class="chip">
            <input type="radio" name="when" checked={when === "later"} onChange={() => setWhen("later")} /> Schedule
          </label>
          {when === "later" && (
            <div class="row wrap">
              <Field label="Date">{(id) => <input id={id} type="date" required value={date} onInput={(e) => setDate(e.currentTarget.value)} />}</Field>
              <Field label="Time">{(id) => <input id={id} type="time" required step={1} value={time} onInput={(e) => setTime(e.currentTarget.value)} />}</Field>
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
          )}
        </fieldset>
        <ErrorBox message={submit.error} />
        <button class="btn primary" disabled={submit.busy || blocking}>
          {submit.busy ? "Sending…" : when === "now" ? "Publish now" : "Schedule post"}
        </button>
      </form>
    </div>
  );
}

export function Compose() {
  return (
    <Page title="Compose" intro="One post for several networks, checked against each network's rules as you type.">
      <NeedsProfile>{(p) => <ComposeFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}

function ComposeFor(props: { profile: Profile }) {
  const state = useLoad(async () => (await api("GET", "/api/v1/connections", { query: { profileId: props.profile.id } })).connections as Connection[], [props.profile.id]);
  return <Async state={state}>{(list) => <Composer profile={props.profile} connections={list} />}</Async>;
}
