import { useState } from "preact/hooks";
import { api } from "../api";
import { builtInVariables } from "../../../src/templates/render";
import { useApp, type Profile } from "../state";
import { Async, Badge, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, Time, useAction, useLoad } from "../ui";
import { Analytics } from "./analytics";
import { NeedsProfile } from "./profiles";
import { Recurring } from "./recurring";

// Pages for the features that came with later issues: templates and team.

export interface TemplateChoice {
  id: string;
  variables: Record<string, string>;
}

interface Template {
  id: string;
  name: string;
  description: string | null;
  content: string;
  platforms: string[];
  category: string | null;
  usage_count: number;
  variables: string[];
  updated_at: string;
}

const listTemplates = async (profileId: string) => (await api("GET", "/api/v1/templates", { query: { profileId, limit: 100 } })).templates as Template[];

/** Compose's "from a template": the template and a value for each of its own variables (built-ins fill themselves). */
export function TemplatePicker(props: { profile: Profile; value: TemplateChoice | undefined; onChange: (v: TemplateChoice | undefined) => void }) {
  const state = useLoad(() => listTemplates(props.profile.id), [props.profile.id]);
  const templates = state.data ?? [];
  if (state.error || templates.length === 0) return null;
  const chosen = templates.find((t) => t.id === props.value?.id);
  return (
    <div class="template-picker">
      <Field label="From a template (optional)">
        {(id) => (
          <select id={id} value={props.value?.id ?? ""} onChange={(e) => props.onChange(e.currentTarget.value ? { id: e.currentTarget.value, variables: {} } : undefined)}>
            <option value="">No template: write the text</option>
            {templates.map((t) => (
              <option value={t.id}>{t.name}</option>
            ))}
          </select>
        )}
      </Field>
      {chosen && (
        <>
          <pre class="template-preview">{chosen.content}</pre>
          {chosen.variables
            .filter((v) => !builtInVariables.includes(v))
            .map((v) => (
              <Field label={`Variable ${v}`}>
                {(id) => (
                  <input
                    id={id}
                    required
                    value={props.value?.variables[v] ?? ""}
                    onInput={(e) => props.onChange({ id: chosen.id, variables: { ...props.value!.variables, [v]: e.currentTarget.value } })}
                  />
                )}
              </Field>
            ))}
        </>
      )}
    </div>
  );
}

function TemplatesFor(props: { profile: Profile }) {
  const { profile } = props;
  const state = useLoad(() => listTemplates(profile.id), [profile.id]);
  const [name, setName] = useState("");
  const [content, setContent] = useState("");
  const [editing, setEditing] = useState<string | undefined>();
  const save = useAction(async () => {
    if (editing) await api("PATCH", `/api/v1/templates/${editing}`, { body: { profileId: profile.id, name, content } });
    else await api("POST", "/api/v1/templates", { body: { profileId: profile.id, name, content } });
    setName("");
    setContent("");
    setEditing(undefined);
    await state.reload();
  });
  const remove = useAction(async (id: string) => {
    await api("DELETE", `/api/v1/templates/${id}`, { query: { profileId: profile.id } });
    await state.reload();
  });
  return (
    <>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <h2>{editing ? "Edit template" : "New template"}</h2>
        <Field label="Template name">{(id) => <input id={id} required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Content" hint={`Variables as {{name}}; built in: ${builtInVariables.map((v) => `{{${v}}}`).join(", ")}`}>
          {(id) => <textarea id={id} rows={4} required value={content} onInput={(e) => setContent(e.currentTarget.value)} />}
        </Field>
        <ErrorBox message={save.error} />
        <div class="row">
          <button class="btn primary" disabled={save.busy}>
            {editing ? "Save template" : "Create template"}
          </button>
          {editing && (
            <button type="button" class="btn ghost" onClick={() => (setEditing(undefined), setName(""), setContent(""))}>
              Cancel
            </button>
          )}
        </div>
      </form>
      <div class="card">
        <h2>Templates</h2>
        <ErrorBox message={remove.error} />
        <Async state={state}>
          {(list) =>
            list.length === 0 ? (
              <Empty>No templates yet.</Empty>
            ) : (
              <ul class="list">
                {list.map((t) => (
                  <li class="item">
                    <div class="item-main">
                      <div>
                        <strong>{t.name}</strong> <span class="muted small">used {t.usage_count}×</span>
                        <pre class="template-preview">{t.content}</pre>
                        {t.variables.length > 0 && <div class="small">Variables: {t.variables.join(", ")}</div>}
                      </div>
                      <div class="row">
                        <button type="button" class="btn small" onClick={() => (setEditing(t.id), setName(t.name), setContent(t.content))}>
                          Edit
                        </button>
                        <ConfirmButton label="Delete" name={`Delete ${t.name}`} confirm="Delete this template?" onConfirm={() => remove.run(t.id)} />
                      </div>
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

export function Templates() {
  return (
    <Page title="Templates" intro="Reusable post text with variables, for compose and recurring schedules.">
      <NeedsProfile>{(p) => <TemplatesFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}

function TeamFor(props: { profile: Profile }) {
  const { profile } = props;
  const { session, reloadProfiles } = useApp();
  const members = useLoad(async () => (await api("GET", `/api/v1/profiles/${profile.id}/members`, { query: { limit: 100 } })).members as any[], [profile.id]);
  const canInvite = profile.role === "owner" || profile.role === "admin";
  const invitations = useLoad(
    async () => (canInvite ? ((await api("GET", `/api/v1/profiles/${profile.id}/invitations`, { query: { limit: 100 } })).invitations as any[]) : []),
    [profile.id],
  );
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [issued, setIssued] = useState<any>();
  const invite = useAction(async () => {
    const res = await api("POST", `/api/v1/profiles/${profile.id}/invitations`, { body: { email, role } });
    setIssued(res);
    setEmail("");
    await invitations.reload();
  });
  const act = useAction(async (fn: () => Promise<unknown>) => {
    await fn();
    await members.reload();
    await invitations.reload();
  });
  return (
    <>
      {canInvite && (
        <form
          class="card inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void invite.run();
          }}
        >
          <h2>Invite a teammate</h2>
          <Field label="Email">{(id) => <input id={id} type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}</Field>
          <Field label="Role">
            {(id) => (
              <select id={id} value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                <option value="member">Member: posts, schedules, uses templates</option>
                {profile.role === "owner" && <option value="admin">Admin: also connections, templates, webhooks, invites</option>}
              </select>
            )}
          </Field>
          <ErrorBox message={invite.error} />
          <button class="btn primary" disabled={invite.busy}>
            Send invitation
          </button>
          {issued && (
            <Notice kind="ok">
              Invitation for {issued.invitation.email} {issued.mail.sent ? "sent by email" : `created (not mailed: ${issued.mail.reason})`}. Link:{" "}
              <a href={issued.invitation.inviteUrl} data-invite-url>
                {issued.invitation.inviteUrl}
              </a>
            </Notice>
          )}
        </form>
      )}
      <div class="card">
        <h2>Members</h2>
        <ErrorBox message={act.error} />
        <Async state={members}>
          {(list) => (
            <ul class="list">
              {list.map((m) => (
                <li class="item" data-member={m.user.email}>
                  <div class="item-main">
                    <div>
                      <strong>{m.user.name ?? m.user.email}</strong> <Badge>{m.role}</Badge> {m.user_id === session?.user.id && <Badge tone="ok">you</Badge>}
                      <div class="muted small">
                        {m.user.email} · joined <Time iso={m.joined_at} timeZone={profile.timezone} />
                      </div>
                    </div>
                    <div class="row">
                      {profile.role === "owner" && m.role !== "owner" && (
                        <>
                          <button
                            type="button"
                            class="btn small"
                            onClick={() => void act.run(() => api("PATCH", `/api/v1/profiles/${profile.id}/members/${m.id}`, { body: { role: m.role === "admin" ? "member" : "admin" } }))}
                          >
                            Make {m.role === "admin" ? "member" : "admin"}
                          </button>
                          <ConfirmButton
                            label="Transfer ownership"
                            class="btn small"
                            confirm={`Make ${m.user.email} the owner? You become an admin and they take over billing.`}
                            onConfirm={() => act.run(async () => (await api("POST", `/api/v1/profiles/${profile.id}/transfer-ownership`, { body: { userId: m.user_id } }), await reloadProfiles()))}
                          />
                        </>
                      )}
                      {canInvite && m.role !== "owner" && m.user_id !== session?.user.id && (profile.role === "owner" || m.role === "member") && (
                        <ConfirmButton
                          label="Remove"
                          name={`Remove ${m.user.email}`}
                          confirm={`Remove ${m.user.email} from ${profile.name}?`}
                          onConfirm={() => act.run(() => api("DELETE", `/api/v1/profiles/${profile.id}/members/${m.id}`))}
                        />
                      )}
                    </div>
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Async>
        {profile.role !== "owner" && (
          <ConfirmButton
            label="Leave this profile"
            confirm={`Leave ${profile.name}? You lose access to it.`}
            onConfirm={() => act.run(async () => (await api("DELETE", `/api/v1/profiles/${profile.id}/leave`), await reloadProfiles()))}
          />
        )}
      </div>
      {canInvite && (
        <div class="card">
          <h2>Invitations</h2>
          <Async state={invitations}>
            {(list) =>
              list.length === 0 ? (
                <Empty>No invitations.</Empty>
              ) : (
                <ul class="list">
                  {list.map((i) => (
                    <li class="item">
                      <div class="item-main">
                        <div>
                          {i.email} <Badge>{i.role}</Badge> <Badge tone={i.expired ? "bad" : "info"}>{i.expired ? "expired" : i.status}</Badge>
                          <div class="muted small">
                            expires <Time iso={i.expires_at} timeZone={profile.timezone} />
                          </div>
                        </div>
                        {i.status === "pending" && (
                          <div class="row">
                            <button type="button" class="btn small" onClick={() => void act.run(() => api("POST", `/api/v1/profiles/${profile.id}/invitations/${i.id}/resend`, { body: {} }))}>
                              Resend
                            </button>
                            <ConfirmButton
                              label="Revoke"
                              name={`Revoke invitation for ${i.email}`}
                              confirm="Revoke this invitation?"
                              onConfirm={() => act.run(() => api("DELETE", `/api/v1/profiles/${profile.id}/invitations/${i.id}`))}
                            />
                          </div>
                        )}
                      </div>
                    </li>
                  ))}
                </ul>
              )
            }
          </Async>
        </div>
      )}
    </>
  );
}

export function Team() {
  return (
    <Page title="Team" intro="Owner: everything. Admin: posts, schedules, templates, connections, webhooks, invites members. Member: posts, schedules, uses templates.">
      <NeedsProfile>{(p) => <TeamFor key={p.id} profile={p} />}</NeedsProfile>
    </Page>
  );
}

export const extraNav = [
  { href: "/app/recurring", label: "Recurring" },
  { href: "/app/templates", label: "Templates" },
  { href: "/app/analytics", label: "Analytics" },
  { href: "/app/team", label: "Team" },
];
export const extraRoutes = [
  { path: "/app/recurring", component: Recurring },
  { path: "/app/templates", component: Templates },
  { path: "/app/analytics", component: Analytics },
  { path: "/app/team", component: Team },
];
