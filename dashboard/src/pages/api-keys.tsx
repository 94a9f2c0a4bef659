import { useState } from "preact/hooks";
import { api } from "../api";
import { useApp, type Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, SecretOnce, statusTone, Time, useAction, useLoad } from "../ui";
import { NeedsProfile } from "./profiles";

function KeysFor(props: { profile: Profile }) {
  const { profile } = props;
  const { billing } = useApp();
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ key: string; warning: string } | undefined>();
  const state = useLoad(async () => (await api("GET", "/api/api-keys", { query: { profileId: profile.id, limit: 100 } })).apiKeys as any[], [profile.id]);
  const create = useAction(async () => {
    const res = await api("POST", "/api/api-keys", { body: { name, profileId: profile.id } });
    setCreated({ key: res.apiKey.key, warning: res.warning });
    setName("");
    await state.reload();
  });
  const revoke = useAction(async (id: string) => {
    await api("DELETE", `/api/api-keys/${id}`);
    await state.reload();
  });
  return (
    <>
      {billing && !billing.limits.apiKeys && (
        <Notice kind="warn">
          API keys come with a paid plan. <a href="/app/billing">Upgrade</a> to create one.
        </Notice>
      )}
      {created && <SecretOnce label="New API key" value={created.key} warning={created.warning} onDone={() => setCreated(undefined)} />}
      <form
        class="card inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <h2>New key for {profile.name}</h2>
        <Field label="Key name">{(id) => <input id={id} required maxLength={100} placeholder="e.g. CMS integration" value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <ErrorBox message={create.error} />
        <button class="btn primary" disabled={create.busy}>
          Create key
        </button>
      </form>
      <div class="card">
        <h2>Keys</h2>
        <ErrorBox message={revoke.error} />
        <Async state={state}>
          {(keys) =>
            keys.length === 0 ? (
              <Empty>No API keys for this profile.</Empty>
            ) : (
              <ul class="list">
                {keys.map((k) => (
                  <li class="item">
                    <div class="item-main">
                      <div>
                        <strong>{k.name}</strong> <code>{k.key}</code> <Badge tone={statusTone(k.status)}>{k.status}</Badge>
                        <div class="muted small">
                          Created <Time iso={k.created_at} /> · last used {k.last_used_at ? <Time iso={k.last_used_at} /> : "never"}
                        </div>
                      </div>
                      {k.status === "active" && (
                        <ConfirmButton label="Revoke" name={`Revoke ${k.name}`} confirm="Revoke this key? Integrations using it stop working." onConfirm={() => revoke.run(k.id)} />
                      )}
                    </div>
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

export function ApiKeys() {
  return (
    <Page title="API keys" intro="Keys let your own code call the API for one profile. A key is shown once, when it is created.">
      <NeedsProfile>{(p) => <KeysFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}
