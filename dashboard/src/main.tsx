import { render } from "preact";
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { initSupabase, supabase } from "./api";
import { AppProvider, useApp } from "./state";
import { ErrorBox, Loading, messageOf } from "./ui";
import { ResetConfirm, ResetRequest, SignIn, SignUp, Welcome } from "./pages/auth";
import { Overview } from "./pages/overview";
import { Profiles } from "./pages/profiles";
import { Connections } from "./pages/connections";
import { Compose } from "./pages/compose";
import { Calendar, PostsList } from "./pages/posts";
import { Logs } from "./pages/logs";
import { Webhooks } from "./pages/webhooks";
import { ApiKeys } from "./pages/api-keys";
import { BillingPage } from "./pages/billing";
import { extraNav, extraRoutes } from "./pages/extra";
import { InviteAccept } from "./pages/invite";
import { useBranding, WhiteLabel } from "./pages/white-label";
import "./styles.css";

const nav: { href: string; label: string }[] = [
  { href: "/", label: "Overview" },
  { href: "/app/compose", label: "Compose" },
  { href: "/app/calendar", label: "Calendar" },
  { href: "/app/posts", label: "Posts" },
  { href: "/app/connections", label: "Connections" },
  ...extraNav,
  { href: "/app/logs", label: "Logs & delivery" },
  { href: "/app/webhooks", label: "Webhooks" },
  { href: "/app/api-keys", label: "API keys" },
  { href: "/app/profiles", label: "Profiles" },
  { href: "/app/billing", label: "Billing" },
  { href: "/app/white-label", label: "White-label" },
];

const publicPaths = ["/signin", "/signup", "/reset-password", "/welcome-app"];

function ProfileSwitcher() {
  const { profiles, profile, selectProfile } = useApp();
  if (!profiles?.length) return null;
  return (
    <div class="switcher">
      <label for="profile-switch">Profile</label>
      <select id="profile-switch" value={profile?.id} onChange={(e) => selectProfile(e.currentTarget.value)}>
        {profiles.map((p) => (
          <option value={p.id}>
            {p.name} ({p.role})
          </option>
        ))}
      </select>
    </div>
  );
}

function Shell(props: { children: preact.ComponentChildren }) {
  const { session, billing, profile } = useApp();
  const { path, route } = useLocation();
  // The profile's branding: its billing owner's white-label name and accent colour, else ours.
  const branding = useBranding(profile?.id);
  const whiteLabelled = branding?.whiteLabel === true;
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a href="/" class="brand">
          <span aria-hidden="true" class="logo">◆</span> {whiteLabelled ? branding.displayName : "Amplify"}
        </a>
        <button type="button" class="btn ghost menu-toggle" aria-expanded={open} aria-controls="sidenav" onClick={() => setOpen(!open)}>
          Menu
        </button>
        <ProfileSwitcher />
        <div class="who">
          {billing && <span class="badge info">{billing.planName}</span>}
          <span class="email">{session?.user.email}</span>
          <button
            type="button"
            class="btn small ghost"
            onClick={async () => {
              await supabase().auth.signOut();
              route("/signin");
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <nav id="sidenav" class={`sidenav ${open ? "open" : ""}`} aria-label="Main">
        <ul>
          {nav.map((n) => (
            <li>
              <a href={n.href} aria-current={path === n.href ? "page" : undefined}>
                {n.label}
              </a>
            </li>
          ))}
        </ul>
        <p class="nav-foot">
          <a href="/docs/">API docs</a>
          {!whiteLabelled && (
            <>
              {" "}
              · <a href="/welcome/">About</a>
            </>
          )}
          {whiteLabelled && branding.supportUrl && (
            <>
              {" "}
              · <a href={branding.supportUrl}>Help</a>
            </>
          )}
        </p>
      </nav>
      <main id="main" class="content" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        <a href="/">Back to the overview</a>
      </p>
    </section>
  );
}

function Gate() {
  const { session } = useApp();
  const { path, route, url } = useLocation();
  const isPublic = publicPaths.some((p) => path === p || path.startsWith(`${p}/`));
  const isInvite = path.startsWith("/invite/");
  useEffect(() => {
    if (session === null && !isPublic && !isInvite && path !== "/") route(`/signin?next=${encodeURIComponent(url)}`, true);
    if (session && (path === "/signin" || path === "/signup")) {
      const next = new URLSearchParams(location.search).get("next");
      route(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", true);
    }
  }, [session, path]);
  if (session === undefined) return <Loading label="Signing you in…" />;
  if (path === "/reset-password/confirm") return <ResetConfirm />;
  if (isInvite) return session ? <Shell><InviteAccept /></Shell> : <InviteAccept />;
  if (!session) {
    return (
      <Router>
        <Route path="/signin" component={SignIn} />
        <Route path="/signup" component={SignUp} />
        <Route path="/reset-password" component={ResetRequest} />
        <Route path="/reset-password/confirm" component={ResetConfirm} />
        <Route default component={Welcome} />
      </Router>
    );
  }
  return (
    <Shell>
      <ErrorBoundary>
        <Router>
          <Route path="/" component={Overview} />
          <Route path="/app/profiles" component={Profiles} />
          <Route path="/app/connections" component={Connections} />
          <Route path="/app/compose" component={Compose} />
          <Route path="/app/calendar" component={Calendar} />
          <Route path="/app/posts" component={PostsList} />
          <Route path="/app/logs" component={Logs} />
          <Route path="/app/webhooks" component={Webhooks} />
          <Route path="/app/api-keys" component={ApiKeys} />
          <Route path="/app/billing" component={BillingPage} />
          <Route path="/app/white-label" component={WhiteLabel} />
          {extraRoutes.map((r) => (
            <Route path={r.path} component={r.component} />
          ))}
          <Route default component={NotFound} />
        </Router>
      </ErrorBoundary>
    </Shell>
  );
}

function App() {
  return (
    <LocationProvider>
      <AppProvider>
        <Gate />
      </AppProvider>
    </LocationProvider>
  );
}

const root = document.getElementById("app")!;
initSupabase()
  .then(() => render(<App />, root))
  .catch((e) => render(<ErrorBox message={messageOf(e)} retry={() => location.reload()} />, root));
