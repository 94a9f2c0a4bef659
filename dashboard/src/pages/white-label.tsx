import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { useApp } from "../state";
import { Async, ConfirmButton, Empty, ErrorBox, Field, Notice, Page, Time, useAction, useLoad } from "../ui";

// White-label settings (the add-on): the billing owner's branding and own network apps. The shell shows the profile's
// branding (`useBranding`), so a white-labelled account's team never sees our name in the app.

export interface ShownBranding {
  whiteLabel: boolean;
  displayName: string;
  logoUrl: string | null;
  accentColor: string;
  supportUrl: string | null;
}

const appPlatforms = ["twitter", "linkedin", "instagram", "facebook", "threads", "tiktok", "youtube", "pinterest", "reddit"] as const;

/** WCAG contrast of a colour against white. */
function contrastOnWhite(hex: string): number {
  const [r, g, b] = [1, 3, 5]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return 1.05 / (luminance + 0.05);
}

/**
 * The branding the selected profile shows (its billing owner's while the add-on is held, else ours), applied to the
 * page: the accent colour becomes `--brand` when it is readable on white (links and buttons keep AA contrast), and the
 * document title carries the display name.
 */
export function useBranding(profileId: string | undefined): ShownBranding | undefined {
  const [branding, setBranding] = useState<ShownBranding | undefined>();
  useEffect(() => {
    let live = true;
    if (!profileId) {
      setBranding(undefined);
      return;
    }
    api("GET", "/api/v1/white-label/branding", { query: { profileId } })
      .then((res) => live && setBranding(res.branding as ShownBranding))
      .catch(() => live && setBranding(undefined));
    return () => {
      live = false;
    };
  }, [profileId]);
  useEffect(() => {
    const root = document.documentElement.style;
    if (branding?.whiteLabel && contrastOnWhite(branding.accentColor) >= 4.5) root.setProperty("--brand", branding.accentColor);
    else root.removeProperty("--brand");
    document.title = branding?.whiteLabel ? branding.displayName : "Amplify Scheduler";
  }, [branding]);
  return branding;
}

interface Settings {
  active: boolean;
  branding: { displayName: string; logoMediaId: string | null; accentColor: string | null; supportUrl: string | null } | null;
  apps: { id: string; platform: string; clientId: string; options: Record<string, unknown>; validatedAt: string | null }[];
}

function BrandingForm(props: { settings: Settings; reload: () => Promise<void> }) {
  const current = props.settings.branding;
  const [displayName, setDisplayName] = useState(current?.displayName ?? "");
  const [accentColor, setAccentColor] = useState(current?.accentColor ?? "#4338ca");
  const [supportUrl, setSupportUrl] = useState(current?.supportUrl ?? "");
  const [logoMediaId, setLogoMediaId] = useState(current?.logoMediaId ?? "");
  const [saved, setSaved] = useState(false);
  const save = useAction(async () => {
    setSaved(false);
    await api("PUT", "/api/v1/white-label/branding", {
      body: { displayName, accentColor, supportUrl: supportUrl || null, logoMediaId: logoMediaId || null },
    });
    setSaved(true);
    await props.reload();
  });
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run();
      }}
    >
      <h2>Branding</h2>
      <Field label="Display name">{(id) => <input id={id} required maxLength={60} value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />}</Field>
      <Field label="Accent colour" hint="Used for links and buttons when it is readable on white.">
        {(id) => <input id={id} type="color" value={accentColor} onInput={(e) => setAccentColor(e.currentTarget.value)} />}
      </Field>
      <Field label="Support URL (optional)">
        {(id) => <input id={id} type="url" placeholder="https://help.example.com/" value={supportUrl} onInput={(e) => setSupportUrl(e.currentTarget.value)} />}
      </Field>
      <Field label="Logo media id (optional)" hint="Upload the logo like any media, then paste its id.">
        {(id) => <input id={id} value={logoMediaId} onInput={(e) => setLogoMediaId(e.currentTarget.value)} />}
      </Field>
      <ErrorBox message={save.error} />
      {saved && <Notice kind="ok">Branding saved.</Notice>}
      <button class="btn primary" disabled={save.busy}>
        Save branding
      </button>
    </form>
  );
}

/** The options the form's fields give for a network's app (each network's own: see the white-label API). */
function optionsFor(platform: string, f: { userAgent: string; configId: string; projectId: string; audited: boolean }): Record<string, unknown> {
  switch (platform) {
    case "reddit":
      return { userAgent: f.userAgent };
    case "facebook":
      return f.configId.trim() ? { configId: f.configId.trim() } : {};
    case "youtube":
      return { projectAudited: f.audited, ...(f.projectId.trim() ? { projectId: f.projectId.trim() } : {}) };
    case "tiktok":
      return { appAudited: f.audited };
    default:
      return {};
  }
}

function AppsCard(props: { settings: Settings; reload: () => Promise<void> }) {
  const [platform, setPlatform] = useState<string>("twitter");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [userAgent, setUserAgent] = useState("");
  const [configId, setConfigId] = useState("");
  const [projectId, setProjectId] = useState("");
  const [audited, setAudited] = useState(false);
  const save = useAction(async () => {
    await api("PUT", `/api/v1/white-label/apps/${platform}`, {
      body: { clientId, clientSecret, options: optionsFor(platform, { userAgent, configId, projectId, audited }) },
    });
    setClientId("");
    setClientSecret("");
    await props.reload();
  });
  const remove = useAction(async (p: string) => {
    await api("DELETE", `/api/v1/white-label/apps/${p}`);
    await props.reload();
  });
  return (
    <div class="card">
      <h2>Your network apps</h2>
      <p class="muted">New connections of your profiles go through your own app, so consent screens show your app. Secrets are stored encrypted and never shown again.</p>
      <ErrorBox message={remove.error} />
      {props.settings.apps.length === 0 ? (
        <Empty>No apps yet: connections use ours.</Empty>
      ) : (
        <ul class="list">
          {props.settings.apps.map((a) => (
            <li class="item">
              <div class="item-main">
                <div>
                  <strong>{a.platform}</strong> <code>{a.clientId}</code>
                  {typeof a.options.configId === "string" && (
                    <div class="muted small">
                      Login for Business configuration <code>{a.options.configId}</code>
                    </div>
                  )}
                  <div class="muted small">Checked with the network <Time iso={a.validatedAt} /></div>
                </div>
                <ConfirmButton label="Remove" name={`Remove the ${a.platform} app`} confirm="Remove this app? New connections will use ours." onConfirm={() => remove.run(a.platform)} />
              </div>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <h3>Save an app</h3>
        <Field label="Network">
          {(id) => (
            <select id={id} value={platform} onChange={(e) => setPlatform(e.currentTarget.value)}>
              {appPlatforms.map((p) => (
                <option value={p}>{p}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Client id (Meta: app id; TikTok: client key)">{(id) => <input id={id} required value={clientId} onInput={(e) => setClientId(e.currentTarget.value)} />}</Field>
        <Field label="Client secret">{(id) => <input id={id} required type="password" autocomplete="off" value={clientSecret} onInput={(e) => setClientSecret(e.currentTarget.value)} />}</Field>
        {platform === "reddit" && (
          <Field label="Reddit User-Agent">{(id) => <input id={id} required value={userAgent} onInput={(e) => setUserAgent(e.currentTarget.value)} />}</Field>
        )}
        {platform === "facebook" && (
          <Field label="Facebook Login for Business configuration id (Business apps; optional)">
            {(id) => <input id={id} inputMode="numeric" value={configId} onInput={(e) => setConfigId(e.currentTarget.value)} />}
          </Field>
        )}
        {platform === "youtube" && (
          <Field label="Google Cloud project id (optional)">{(id) => <input id={id} value={projectId} onInput={(e) => setProjectId(e.currentTarget.value)} />}</Field>
        )}
        {(platform === "youtube" || platform === "tiktok") && (
          <label class="chip">
            <input type="checkbox" checked={audited} onChange={(e) => setAudited(e.currentTarget.checked)} />{" "}
            {platform === "youtube" ? "Google has audited this project (uploads can be public)" : "TikTok has audited this app (posts can be public)"}
          </label>
        )}
        <ErrorBox message={save.error} />
        <button class="btn primary" disabled={save.busy}>
          Check and save
        </button>
      </form>
    </div>
  );
}

export function WhiteLabel() {
  const { profile } = useApp();
  const state = useLoad(async () => {
    try {
      return (await api("GET", "/api/v1/white-label", { query: { profileId: profile?.id } })).whiteLabel as Settings;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 402 || e.status === 403)) return e;
      throw e;
    }
  }, [profile?.id]);
  return (
    <Page title="White-label" intro="Your branding and your own network apps, for your profiles' teams and the people who connect accounts.">
      <Async state={state}>
        {(settings) =>
          settings instanceof ApiError ? (
            <Notice kind={settings.status === 402 ? "info" : "warn"}>
              {settings.status === 402 ? (
                <>
                  White-label is an add-on to your subscription. <a href="/app/billing">Add it in billing</a>.
                </>
              ) : (
                "Only this profile's billing owner can change its white-label settings."
              )}
            </Notice>
          ) : (
            <>
              <BrandingForm settings={settings} reload={state.reload} />
              <AppsCard settings={settings} reload={state.reload} />
            </>
          )
        }
      </Async>
    </Page>
  );
}
