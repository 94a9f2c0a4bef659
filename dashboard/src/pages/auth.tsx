import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { supabase } from "../api";
import { ErrorBox, Field, Notice, useAction } from "../ui";

function AuthCard(props: { title: string; children: preact.ComponentChildren }) {
  return (
    <main id="main" class="auth">
      <div class="auth-card">
        <p class="brand">
          <span aria-hidden="true" class="logo">◆</span> Amplify Scheduler
        </p>
        <h1>{props.title}</h1>
        {props.children}
      </div>
    </main>
  );
}

export function Welcome() {
  return (
    <main id="main" class="welcome">
      <section class="hero">
        <p class="brand">
          <span aria-hidden="true" class="logo">◆</span> Amplify Scheduler
        </p>
        <h1>Publish and schedule posts across ten social networks</h1>
        <p class="lead">One editor, one calendar, one API. Connect your accounts, compose once, and see each network's result.</p>
        <p class="row">
          <a class="btn primary" href="/signup">
            Create an account
          </a>
          <a class="btn" href="/signin">
            Sign in
          </a>
        </p>
        <p class="muted">
          Developers: the API is described at <a href="/api/v1">/api/v1</a> and documented at <a href="/docs/">/docs/</a>.
        </p>
      </section>
    </main>
  );
}

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction(async () => {
    const { error } = await supabase().auth.signInWithPassword({ email, password });
    if (error) throw new Error(error.message);
  });
  return (
    <AuthCard title="Sign in">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        <Field label="Email">{(id) => <input id={id} type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}</Field>
        <Field label="Password">
          {(id) => <input id={id} type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
        </Field>
        <ErrorBox message={action.error} />
        <button class="btn primary wide" disabled={action.busy}>
          {action.busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="auth-links">
        <a href="/signup">Create an account</a> · <a href="/reset-password">Forgot your password?</a>
      </p>
    </AuthCard>
  );
}

export function SignUp() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const action = useAction(async () => {
    const { data, error } = await supabase().auth.signUp({ email, password });
    if (error) throw new Error(error.message);
    if (!data.session) setPending(true);
  });
  return (
    <AuthCard title="Create your account">
      {pending ? (
        <Notice kind="ok">Check your inbox: confirm your email address, then sign in.</Notice>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void action.run();
          }}
        >
          <Field label="Email">{(id) => <input id={id} type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}</Field>
          <Field label="Password" hint="At least 6 characters.">
            {(id) => <input id={id} type="password" autoComplete="new-password" required minLength={6} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
          </Field>
          <ErrorBox message={action.error} />
          <button class="btn primary wide" disabled={action.busy}>
            {action.busy ? "Creating…" : "Create account"}
          </button>
        </form>
      )}
      <p class="auth-links">
        Already have an account? <a href="/signin">Sign in</a>
      </p>
    </AuthCard>
  );
}

export function ResetRequest() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const action = useAction(async () => {
    const { error } = await supabase().auth.resetPasswordForEmail(email, { redirectTo: `${location.origin}/reset-password/confirm` });
    if (error) throw new Error(error.message);
    setSent(true);
  });
  return (
    <AuthCard title="Reset your password">
      {sent ? (
        <Notice kind="ok">If an account exists for {email}, a reset link is on its way. Open it in this browser to choose a new password.</Notice>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void action.run();
          }}
        >
          <Field label="Email">{(id) => <input id={id} type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />}</Field>
          <ErrorBox message={action.error} />
          <button class="btn primary wide" disabled={action.busy}>
            {action.busy ? "Sending…" : "Send reset link"}
          </button>
        </form>
      )}
      <p class="auth-links">
        <a href="/signin">Back to sign in</a>
      </p>
    </AuthCard>
  );
}

/** The reset link's landing: a one-time recovery token (not a session) is exchanged, then the new password set. */
export function ResetConfirm() {
  const { query, route } = useLocation();
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const action = useAction(async () => {
    const auth = supabase().auth;
    const tokenHash = query.token_hash;
    if (tokenHash) {
      const { error } = await auth.verifyOtp({ token_hash: tokenHash, type: "recovery" });
      if (error) throw new Error(error.message);
      // The one-time token is spent: drop it from the address bar.
      history.replaceState(null, "", "/reset-password/confirm");
    }
    const { error } = await auth.updateUser({ password });
    if (error) throw new Error(error.message);
    setDone(true);
  });
  return (
    <AuthCard title="Choose a new password">
      {done ? (
        <>
          <Notice kind="ok">Your password was changed and you are signed in.</Notice>
          <button type="button" class="btn primary wide" onClick={() => route("/")}>
            Continue to the dashboard
          </button>
        </>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void action.run();
          }}
        >
          <Field label="New password" hint="At least 6 characters.">
            {(id) => <input id={id} type="password" autoComplete="new-password" required minLength={6} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}
          </Field>
          <ErrorBox message={action.error} />
          <button class="btn primary wide" disabled={action.busy}>
            {action.busy ? "Saving…" : "Set new password"}
          </button>
        </form>
      )}
    </AuthCard>
  );
}
