import { api } from "../api";
import { plans, type PlanId } from "../../../src/core/plans";
import { useApp } from "../state";
import { Badge, ErrorBox, Loading, Meter, Notice, Page, statusTone, Time, useAction } from "../ui";

const price = (pence: number) => (pence === 0 ? "£0" : `£${(pence / 100).toFixed(0)}/month`);
const lim = (n: number | null, unit: string) => (n === null ? `Unlimited ${unit}` : `${n.toLocaleString("en")} ${unit}`);

export function BillingPage() {
  const { billing, reloadBilling } = useApp();
  const checkout = useAction(async (plan: string) => {
    const { url } = await api("POST", "/api/billing/create-checkout-session", { body: { plan } });
    location.assign(url);
  });
  const portal = useAction(async () => {
    const { url } = await api("POST", "/api/billing/create-portal-session");
    location.assign(url);
  });
  if (!billing)
    return (
      <Page title="Billing">
        <Loading label="Loading your plan…" />
        <button type="button" class="btn small" onClick={() => void reloadBilling()}>
          Reload
        </button>
      </Page>
    );
  const paidIds = (Object.keys(plans) as PlanId[]).filter((id) => id !== "free");
  return (
    <Page title="Billing" intro="Your plan, this month's usage against its limits, and changes through Stripe.">
      <div class="card">
        <h2>
          {billing.planName} <Badge tone={statusTone(billing.entitlement === "paid" ? "active" : billing.entitlement)}>{billing.status}</Badge>
        </h2>
        {billing.entitlement === "grace" && <Notice kind="warn">Your last payment failed; Stripe retries it. Update your card in the portal.</Notice>}
        {billing.cancelAtPeriodEnd && <Notice kind="warn">Your subscription ends at the end of this period.</Notice>}
        {billing.currentPeriodEnd && (
          <p>
            Current period ends <Time iso={billing.currentPeriodEnd} />
          </p>
        )}
        <Meter label="Posts this month" used={billing.usage.posts.used} limit={billing.usage.posts.limit ?? billing.usage.posts.fairUseLimit ?? null} />
        <Meter label="API requests this month" used={billing.usage.apiRequests.used} limit={billing.usage.apiRequests.limit} />
        <Meter label="Profiles you own" used={billing.usage.profiles} limit={billing.limits.profiles} />
        <p class="muted small">
          Usage resets <Time iso={billing.usage.resetsAt} />.
        </p>
        {billing.hasBillingAccount && (
          <button type="button" class="btn" disabled={portal.busy} onClick={() => void portal.run()}>
            Manage billing in the Stripe portal
          </button>
        )}
        <ErrorBox message={portal.error} />
      </div>
      <div class="card">
        <h2>Plans</h2>
        <p class="muted">
          The Free plan: {plans.free.profiles} profiles and {plans.free.postsPerMonth} posts a month from the dashboard, no API keys and no
          webhooks. Paid plans add API access and webhooks.
        </p>
        <ErrorBox message={checkout.error} />
        <div class="plans">
          {paidIds.map((id) => {
            const p = plans[id];
            const current = billing.subscribedPlan === id && billing.active;
            return (
              <div class={`plan ${current ? "current" : ""}`}>
                <h3>{p.name}</h3>
                <p class="price">{price(p.pricePence)}</p>
                <ul class="plain small">
                  <li>{lim(p.profiles, "profiles")}</li>
                  <li>{lim(p.postsPerMonth, "posts a month")}</li>
                  <li>{lim(p.apiRequestsPerMonth, "API requests a month")}</li>
                </ul>
                {current ? (
                  <Badge tone="ok">Current plan</Badge>
                ) : billing.hasBillingAccount && billing.subscribedPlan && billing.active ? (
                  <button type="button" class="btn small" onClick={() => void portal.run()}>
                    Change in portal
                  </button>
                ) : (
                  <button type="button" class="btn primary small" disabled={checkout.busy} onClick={() => void checkout.run(id)} aria-label={`Upgrade to ${p.name}`}>
                    Upgrade to {p.name}
                  </button>
                )}
              </div>
            );
          })}
        </div>
      </div>
    </Page>
  );
}
