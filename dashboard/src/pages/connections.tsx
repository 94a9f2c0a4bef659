import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api } from "../api";
import { catalog, platformIds, type Platform } from "../../../src/platforms/catalog";
import type { Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, statusTone, Time, useAction, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

export interface Connection {
  id: string;
  platform: Platform;
  username: string;
  externalAccountName: string;
  connectionStatus: string;
  avatarUrl: string | null;
  settings: Record<string, unknown>;
  readiness: { status: string; canPublish: boolean; canSchedule: boolean; missingRequirements: string[]; warnings: string[] };
  destinations?: Record<string, { id: string; name: string }[]>;
  contract: { displayName: string; supportStatus: string; notes: string[] };
  tokenExpiresAt: string | null;
  /** ok, expiring (with expiresAt) or needs_reconnect (with reason): README "Connection health". */
  tokenHealth?: { status: "ok" | "expiring" | "needs_reconnect"; expiresAt?: string; reason?: string };
  lastSyncedAt: string | null;
  createdAt: string;
}

export const platformName = (p: string) => (catalog as Record<string, { displayName?: string }>)[p]?.displayName ?? p;

/** Starts connect/init and sends the browser to the network's consent page (or back, for app-password networks). */
async function startConnect(profileId: string, platform: string, credentials?: { identifier: string; appPassword: string }) {
  const returnUrl = `${location.origin}/app/connections`;
  const res = await api("POST", "/api/v1/connect/init", { body: { platform, returnUrl, profileId, ...(credentials ? { credentials } : {}) } });
  if (res.error) throw new Error(res.error);
  location.assign(res.url);
}

const destinationSetting: Record<string, string> = { boards: "boardId", pages: "pageId" };

function Settings(props: { c: Connection; profileId: string; onSaved: () => void }) {
  const { c } = props;
  const [values, setValues] = useState<Record<string, string>>(() =>
    Object.fromEntries(Object.entries(c.settings).map(([k, v]) => [k, typeof v === "string" ? v : ""])),
  );
  const save = useAction(async () => {
    const settings: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) settings[k] = v === "" ? null : v;
    await api("PATCH", `/api/v1/connections/${c.id}`, { query: { profileId: props.profileId }, body: { settings } });
    props.onSaved();
  });
  const fields: preact.ComponentChildren[] = [];
  for (const [kind, list] of Object.entries(c.destinations ?? {})) {
    const key = destinationSetting[kind] ?? `${kind}Id`;
    fields.push(
      <Field label={kind === "boards" ? "Default board" : kind === "pages" ? "Page" : kind}>
        {(id) => (
          <select id={id} value={values[key] ?? ""} onChange={(e) => setValues({ ...values, [key]: e.currentTarget.value })}>
            <option value="">Choose…</option>
            {list.map((d) => (
              <option value={d.id}>{d.name}</option>
            ))}
          </select>
        )}
      </Field>,
    );
  }
  if (c.platform === "reddit") {
    fields.push(
      <Field label="Subreddit" hint="Without r/, e.g. test">
        {(id) => <input id={id} value={values.subreddit ?? ""} onInput={(e) => setValues({ ...values, subreddit: e.currentTarget.value.replace(/^r\//, "") })} />}
      </Field>,
    );
  }
  if (!fields.length) return null;
  return (
    <form
      class="settings"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      {fields}
      <ErrorBox message={save.error} />
      <button class="btn small" disabled={save.busy}>
        Save settings
      </button>
    </form>
  );
}

function ConnectionCard(props: { c: Connection; profile: Profile; reload: () => void }) {
  const { c, profile } = props;
  const sync = useAction(async () => {
    await api("POST", `/api/v1/connections/${c.id}/sync`, { query: { profileId: profile.id }, body: {} });
    props.reload();
  });
  const remove = useAction(async () => {
    await api("DELETE", `/api/v1/connections/${c.id}`, { query: { profileId: profile.id } });
    props.reload();
  });
  const reconnect = useAction(() => startConnect(profile.id, c.platform));
  return (
    <li class="item connection" data-platform={c.platform}>
      <div class="item-main">
        <div>
          <strong>{platformName(c.platform)}</strong> {c.username} <Badge tone={statusTone(c.readiness.status)}>{c.readiness.status.replace("_", " ")}</Badge>
          <div class="muted small">
            Connected <Time iso={c.createdAt} timeZone={profile.timezone} />
            {c.lastSyncedAt && (
              <>
                {" "}
                · synced <Time iso={c.lastSyncedAt} timeZone={profile.timezone} />
              </>
            )}
            {c.tokenHealth?.status === "ok" && c.tokenHealth.expiresAt && (
              <>
                {" "}
                · authorization valid until <Time iso={c.tokenHealth.expiresAt} timeZone={profile.timezone} />
              </>
            )}
          </div>
          {c.tokenHealth?.status === "expiring" && (
            <p class="small token-health" data-token-health="expiring">
              Stops working <Time iso={c.tokenHealth.expiresAt} timeZone={profile.timezone} />: reconnect before then.
            </p>
          )}
          {c.tokenHealth?.status === "needs_reconnect" && c.tokenHealth.reason && (
            <p class="small token-health" data-token-health="needs_reconnect">
              Needs reconnecting: {c.tokenHealth.reason}
            </p>
          )}
        </div>
        <div class="row">
          {(c.readiness.status === "needs_reconnect" || (c.tokenHealth && c.tokenHealth.status !== "ok")) && (
            <button type="button" class="btn small primary" onClick={() => void reconnect.run()}>
              Reconnect
            </button>
          )}
          <button type="button" class="btn small" disabled={sync.busy} onClick={() => void sync.run()} aria-label={`Sync ${platformName(c.platform)}`}>
            {sync.busy ? "Syncing…" : "Sync"}
          </button>
          <ConfirmButton
            label="Disconnect"
            name={`Disconnect ${platformName(c.platform)}`}
            confirm={`Disconnect ${c.username}? Scheduled posts to it will fail.`}
            onConfirm={() => remove.run()}
          />
        </div>
      </div>
      {c.readiness.missingRequirements.length > 0 && (
        <ul class="missing">
          {c.readiness.missingRequirements.map((m) => (
            <li>Missing: {m}</li>
          ))}
        </ul>
      )}
      {c.readiness.warnings.map((w) => (
        <p class="muted small">⚠ {w}</p>
      ))}
      <Settings c={c} profileId={profile.id} onSaved={props.reload} />
      <ErrorBox message={sync.error ?? remove.error ?? reconnect.error} />
    </li>
  );
}

function BlueskyForm(props: { profileId: string; onCancel: () => void }) {
  const [identifier, setIdentifier] = useState("");
  const [appPassword, setAppPassword] = useState("");
  const action = useAction(() => startConnect(props.profileId, "bluesky", { identifier, appPassword }));
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run();
      }}
    >
      <h2>Connect Bluesky</h2>
      <p class="muted small">Bluesky uses an app password (Settings → App passwords). It is used once to sign in and never stored.</p>
      <Field label="Handle or DID">{(id) => <input id={id} required placeholder="you.bsky.social" value={identifier} onInput={(e) => setIdentifier(e.currentTarget.value)} />}</Field>
      <Field label="App password">
        {(id) => <input id={id} type="password" required autoComplete="off" value={appPassword} onInput={(e) => setAppPassword(e.currentTarget.value)} />}
      </Field>
      <ErrorBox message={action.error} />
      <div class="row">
        <button class="btn primary" disabled={action.busy}>
          Connect
        </button>
        <button type="button" class="btn ghost" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function ConnectionsFor(props: { profile: Profile }) {
  const { profile } = props;
  const { query } = useLocation();
  const [bluesky, setBluesky] = useState(false);
  const state = useLoad(async () => (await api("GET", "/api/v1/connections", { query: { profileId: profile.id } })).connections as Connection[], [profile.id]);
  const connect = useAction((platform: string) => startConnect(profile.id, platform));
  const canManage = profile.role === "owner" || profile.role === "admin";
  return (
    <>
      {query.connected && <Notice kind="ok">{platformName(query.connected)} is connected.</Notice>}
      {query.error && <ErrorBox message={`Connecting failed: ${query.error_description || query.message || query.error}`} />}
      {canManage && (
        <div class="card">
          <h2>Connect an account</h2>
          <div class="grid-buttons">
            {platformIds.filter((p) => catalog[p].publish.supported).map((p) => (
              <button
                type="button"
                class="btn"
                disabled={connect.busy}
                onClick={() => (p === "bluesky" ? setBluesky(true) : void connect.run(p))}
                aria-label={`Connect ${platformName(p)}`}
              >
                {platformName(p)}
                {(catalog[p].supportStatus as string) !== "full" && <span class="muted small"> ({catalog[p].supportStatus})</span>}
              </button>
            ))}
          </div>
          <ErrorBox message={connect.error} />
        </div>
      )}
      {bluesky && <BlueskyForm profileId={profile.id} onCancel={() => setBluesky(false)} />}
      <div class="card">
        <h2>Connected accounts</h2>
        <Async state={state}>
          {(list) =>
            list.length === 0 ? (
              <Empty>No accounts connected yet. Connect one above to start publishing.</Empty>
            ) : (
              <ul class="list">
                {list.map((c) => (
                  <ConnectionCard key={c.id} c={c} profile={profile} reload={() => void state.reload()} />
                ))}
              </ul>
            )
          }
        </Async>
      </div>
    </>
  );
}

export function Connections() {
  return (
    <Page title="Connections" intro="Social accounts this profile publishes to, and whether each is ready.">
      <NeedsProfile>{(p) => <ConnectionsFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
