import { useState } from "preact/hooks";
import { api } from "../api";
import { webhookEventTypes } from "../../../src/webhooks/event-types";
import { useApp, type Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, SecretOnce, statusTone, Time, useAction, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

function Deliveries(props: { endpointId: string; profile: Profile }) {
  const state = useLoad(async () => (await api("GET", `/api/webhook-endpoints/${props.endpointId}/deliveries`, { query: { limit: 20 } })).deliveries as any[], [props.endpointId]);
  const retry = useAction(async (id: string) => {
    await api("POST", `/api/webhook-deliveries/${id}/retry`, { body: { profileId: props.profile.id } });
    await state.reload();
  });
  return (
    <div class="deliveries">
      <h3 class="h4">Delivery history</h3>
      <ErrorBox message={retry.error} />
      <Async state={state}>
        {(list) =>
          list.length === 0 ? (
            <Empty>No deliveries yet.</Empty>
          ) : (
            <ul class="list">
              {list.map((d) => (
                <li class="item">
                  <details>
                    <summary>
                      <Badge tone={statusTone(d.status)}>{d.status}</Badge> {d.event_type} · <Time iso={d.created_at} timeZone={props.profile.timezone} /> ·{" "}
                      {d.attempt_number}/{d.max_attempts} attempts
                    </summary>
                    <ol class="small">
                      {d.attempts.map((a: any) => (
                        <li>
                          {a.trigger} · {a.status} · HTTP {a.response_status ?? "—"} · {a.latency_ms} ms · <Time iso={a.started_at} timeZone={props.profile.timezone} />
                          {a.error_message && <span class="error-text"> {a.error_message}</span>}
                        </li>
                      ))}
                    </ol>
                    <pre class="payload">{JSON.stringify(d.payload, null, 2)}</pre>
                  </details>
                  {d.status === "failed" && (
                    <button type="button" class="btn small" onClick={() => void retry.run(d.id)}>
                      Retry now
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )
        }
      </Async>
    </div>
  );
}

function WebhooksFor(props: { profile: Profile }) {
  const { profile } = props;
  const { billing } = useApp();
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>(["*"]);
  const [secret, setSecret] = useState<{ value: string; warning: string } | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const state = useLoad(async () => (await api("GET", "/api/webhook-endpoints", { query: { profileId: profile.id } })).endpoints as any[], [profile.id]);
  const create = useAction(async () => {
    const res = await api("POST", "/api/webhook-endpoints", { body: { profileId: profile.id, url, events } });
    setSecret({ value: res.endpoint.secret, warning: res.warning });
    setUrl("");
    await state.reload();
  });
  const toggle = useAction(async (id: string, isActive: boolean) => {
    await api("PATCH", `/api/webhook-endpoints/${id}`, { body: { isActive } });
    await state.reload();
  });
  const remove = useAction(async (id: string) => {
    await api("DELETE", `/api/webhook-endpoints/${id}`);
    await state.reload();
  });
  const all = ["*", ...webhookEventTypes];
  return (
    <>
      {billing && !billing.limits.webhooks && (
        <Notice kind="warn">
          Webhooks come with a paid plan. <a href="/app/billing">Upgrade</a> to add an endpoint.
        </Notice>
      )}
      {secret && <SecretOnce label="Signing secret" value={secret.value} warning={secret.warning} onDone={() => setSecret(undefined)} />}
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <h2>New endpoint</h2>
        <Field label="Endpoint URL">{(id) => <input id={id} type="url" required placeholder="https://example.com/webhooks/amplify" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />}</Field>
        <fieldset>
          <legend>Events</legend>
          <div class="grid-checks">
            {all.map((ev) => (
              <label class="chip">
                <input
                  type="checkbox"
                  checked={events.includes(ev)}
                  onChange={(e) => setEvents(e.currentTarget.checked ? [...events, ev] : events.filter((x) => x !== ev))}
                />{" "}
                {ev === "*" ? "All events" : ev}
              </label>
            ))}
          </div>
        </fieldset>
        <ErrorBox message={create.error} />
        <button class="btn primary" disabled={create.busy}>
          Add endpoint
        </button>
      </form>
      <div class="card">
        <h2>Endpoints</h2>
        <ErrorBox message={toggle.error ?? remove.error} />
        <Async state={state}>
          {(list) =>
            list.length === 0 ? (
              <Empty>No endpoints yet.</Empty>
            ) : (
              <ul class="list">
                {list.map((w) => (
                  <li class="item">
                    <div class="item-main">
                      <div>
                        <code>{w.url}</code> <Badge tone={w.is_active ? "ok" : "bad"}>{w.is_active ? "active" : `inactive${w.disabled_reason ? ` (${w.disabled_reason})` : ""}`}</Badge>
                        <div class="muted small">
                          {w.events.join(", ")} · last delivery {w.last_delivery_at ? <Time iso={w.last_delivery_at} timeZone={profile.timezone} /> : "never"}
                        </div>
                      </div>
                      <div class="row">
                        <button type="button" class="btn small" onClick={() => setOpen(open === w.id ? undefined : w.id)} aria-expanded={open === w.id}>
                          History
                        </button>
                        <button type="button" class="btn small" onClick={() => void toggle.run(w.id, !w.is_active)}>
                          {w.is_active ? "Pause" : "Activate"}
                        </button>
                        <ConfirmButton label="Delete" name={`Delete ${w.url}`} confirm="Delete this endpoint and its history?" onConfirm={() => remove.run(w.id)} />
                      </div>
                    </div>
                    {open === w.id && <Deliveries endpointId={w.id} profile={profile} />}
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

export function Webhooks() {
  return (
    <Page title="Webhooks" intro="Signed HTTP callbacks when posts publish or fail. The signing secret is shown once.">
      <NeedsProfile>{(p) => <WebhooksFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
