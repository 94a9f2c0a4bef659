import { useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { api } from "../api";
import { useApp } from "../state";
import { Async, Badge, Empty, Meter, Notice, Page, statusTone, Time, useLoad } from "../ui";
import { NoProfile } from "./profiles";

const billingMessages: Record<string, { kind: "ok" | "info" | "warn"; text: string }> = {
  success: { kind: "ok", text: "Thank you: your subscription is active. The new plan's limits apply now." },
  canceled: { kind: "info", text: "Checkout was canceled; nothing was charged." },
  portal: { kind: "info", text: "Back from the billing portal; the plan below is up to date." },
};

export function Overview() {
  const { profile, billing, reloadBilling, profiles } = useApp();
  const { query } = useLocation();
  const message = query.billing ? billingMessages[query.billing] : undefined;
  useEffect(() => {
    if (query.billing) void reloadBilling();
  }, [query.billing]);
  const posts = useLoad(
    async () => (profile ? (await api("GET", "/api/v1/posts", { query: { profileId: profile.id, limit: 5 } })).posts : []),
    [profile?.id],
  );
  return (
    <Page title="Overview" intro={profile ? `Profile ${profile.name} · times in ${profile.timezone}` : undefined}>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      {profiles && profiles.length === 0 && <NoProfile />}
      {billing && (
        <div class="card">
          <h2>
            {billing.planName} plan <Badge tone={statusTone(billing.entitlement === "paid" ? "active" : billing.entitlement)}>{billing.status}</Badge>
          </h2>
          <Meter label="Posts this month" used={billing.usage.posts.used} limit={billing.usage.posts.limit} />
          <Meter label="Profiles" used={billing.usage.profiles} limit={billing.limits.profiles} />
          <p>
            <a href="/app/billing">Billing and limits</a>
          </p>
        </div>
      )}
      {profile && (
        <div class="card">
          <h2>Recent posts</h2>
          <Async state={posts}>
            {(list: any[]) =>
              list.length === 0 ? (
                <Empty>
                  No posts yet. <a href="/app/compose">Compose your first post</a>.
                </Empty>
              ) : (
                <ul class="plain">
                  {list.map((p) => (
                    <li>
                      <Badge tone={statusTone(p.status)}>{p.status}</Badge> {p.content.slice(0, 80) || "(media only)"} ·{" "}
                      <Time iso={p.scheduled_for ?? p.published_at ?? p.created_at} timeZone={profile.timezone} />
                    </li>
                  ))}
                </ul>
              )
            }
          </Async>
        </div>
      )}
    </Page>
  );
}
