import { useState } from "preact/hooks";
import { api } from "../api";
import { useApp, type Profile } from "../state";
import { Badge, ConfirmButton, Empty, ErrorBox, Field, Loading, Notice, Page, useAction, viewerTimeZone, zoneOptions } from "../ui";

export function NoProfile() {
  return (
    <Empty>
      You have no profile yet. A profile is a brand or client: its connections, posts and keys belong to it.{" "}
      <a href="/app/profiles">Create a profile</a>.
    </Empty>
  );
}

/** Pages that act on a profile render this until one exists. */
export function NeedsProfile(props: { children: (p: Profile) => preact.ComponentChildren }) {
  const { profile, profiles, profilesError, reloadProfiles } = useApp();
  if (profilesError) return <ErrorBox message={profilesError} retry={() => void reloadProfiles()} />;
  if (!profiles) return <Loading />;
  if (!profile) return <NoProfile />;
  return <>{props.children(profile)}</>;
}


function ProfileRow(props: { p: Profile }) {
  const { p } = props;
  const { reloadProfiles, reloadBilling, profile, selectProfile } = useApp();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(p.name);
  const [timezone, setTimezone] = useState(p.timezone);
  const save = useAction(async () => {
    await api("PATCH", `/api/v1/profiles/${p.id}`, { body: { name, timezone } });
    await reloadProfiles();
    setEditing(false);
  });
  const remove = useAction(async () => {
    await api("DELETE", `/api/v1/profiles/${p.id}`);
    await reloadProfiles();
    await reloadBilling();
  });
  const canEdit = p.role === "owner" || p.role === "admin";
  return (
    <li class="item">
      {editing ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run();
          }}
        >
          <Field label="Name">{(id) => <input id={id} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
          <Field label="Time zone">
            {(id) => (
              <select id={id} value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)}>
                {zoneOptions(timezone).map((z) => (
                  <option value={z}>{z}</option>
                ))}
              </select>
            )}
          </Field>
          <ErrorBox message={save.error} />
          <div class="row">
            <button class="btn primary small" disabled={save.busy}>
              Save
            </button>
            <button type="button" class="btn small ghost" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div class="item-main">
          <div>
            <strong>{p.name}</strong> <Badge>{p.role}</Badge> {profile?.id === p.id && <Badge tone="ok">current</Badge>}
            <div class="muted small">{p.timezone}</div>
          </div>
          <div class="row">
            {profile?.id !== p.id && (
              <button type="button" class="btn small" onClick={() => selectProfile(p.id)}>
                Switch to
              </button>
            )}
            {canEdit && (
              <button type="button" class="btn small" onClick={() => setEditing(true)}>
                Rename
              </button>
            )}
            {p.role === "owner" && (
              <ConfirmButton
                label="Delete"
                name={`Delete ${p.name}`}
                confirm={`Delete ${p.name} with its connections, posts and keys?`}
                onConfirm={() => remove.run()}
              />
            )}
          </div>
        </div>
      )}
      <ErrorBox message={remove.error} />
    </li>
  );
}

export function Profiles() {
  const { profiles, profilesError, reloadProfiles, billing, reloadBilling, selectProfile } = useApp();
  const [name, setName] = useState("");
  const [timezone, setTimezone] = useState(viewerTimeZone());
  const create = useAction(async () => {
    const res = await api("POST", "/api/v1/profiles", { body: { name, timezone } });
    setName("");
    await reloadProfiles();
    await reloadBilling();
    selectProfile(res.profile.id);
  });
  const limit = billing?.limits.profiles;
  const owned = billing?.usage.profiles ?? 0;
  return (
    <Page title="Profiles" intro="Each profile is a brand or client with its own connections, posts, keys and team.">
      {billing && (
        <Notice>
          Your {billing.planName} plan allows {limit === null ? "unlimited profiles" : `${limit} profile${limit === 1 ? "" : "s"}`}; you own {owned}.
          {limit !== null && limit !== undefined && owned >= limit && (
            <>
              {" "}
              <a href="/app/billing">Upgrade for more</a>.
            </>
          )}
        </Notice>
      )}
      <form
        class="card inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <h2>New profile</h2>
        <Field label="Profile name">{(id) => <input id={id} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Time zone">
          {(id) => (
            <select id={id} value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)}>
              {zoneOptions(timezone).map((z) => (
                <option value={z}>{z}</option>
              ))}
            </select>
          )}
        </Field>
        <ErrorBox message={create.error} />
        <button class="btn primary" disabled={create.busy}>
          {create.busy ? "Creating…" : "Create profile"}
        </button>
      </form>
      <div class="card">
        <h2>Your profiles</h2>
        {profilesError ? (
          <ErrorBox message={profilesError} retry={() => void reloadProfiles()} />
        ) : !profiles ? (
          <Loading />
        ) : profiles.length === 0 ? (
          <Empty>No profiles yet: create one above.</Empty>
        ) : (
          <ul class="list">
            {profiles.map((p) => (
              <ProfileRow key={p.id} p={p} />
            ))}
          </ul>
        )}
      </div>
    </Page>
  );
}
