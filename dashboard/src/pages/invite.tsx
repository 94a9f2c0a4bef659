import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api } from "../api";
import { useApp } from "../state";
import { ErrorBox, Notice, useAction } from "../ui";

/** APP_URL/invite/<token>: sign in (or up), then accept; the token goes in the API call's path, never a session. */
export function InviteAccept() {
  const { path, route } = useLocation();
  const { session, reloadProfiles, selectProfile } = useApp();
  const token = path.split("/")[2] ?? "";
  const [accepted, setAccepted] = useState<{ profileId: string; role: string }>();
  const accept = useAction(async () => {
    const res = await api("POST", `/api/v1/invitations/${encodeURIComponent(token)}/accept`, { body: {} });
    setAccepted(res);
    await reloadProfiles();
    selectProfile(res.profileId);
  });
  const next = encodeURIComponent(path);
  return (
    <section class={session ? "page" : "auth"} id={session ? undefined : "main"}>
      <div class="auth-card">
        <h1>Join a team</h1>
        {!session ? (
          <>
            <p>You were invited to a profile on Amplify Scheduler. Sign in or create an account with the invited email address to accept.</p>
            <p class="row">
              <a class="btn primary" href={`/signup?next=${next}`}>
                Create an account
              </a>
              <a class="btn" href={`/signin?next=${next}`}>
                Sign in
              </a>
            </p>
          </>
        ) : accepted ? (
          <>
            <Notice kind="ok">You joined as {accepted.role}.</Notice>
            <button type="button" class="btn primary" onClick={() => route("/app/team")}>
              Open the team
            </button>
          </>
        ) : (
          <>
            <p>Signed in as {session.user.email}. Accept the invitation to join the profile.</p>
            <ErrorBox message={accept.error} />
            <button type="button" class="btn primary" disabled={accept.busy} onClick={() => void accept.run()}>
              Accept invitation
            </button>
          </>
        )}
      </div>
    </section>
  );
}
