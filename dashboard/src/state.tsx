import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { api, supabase, type Session } from "./api";
import { messageOf } from "./ui";

export interface Profile {
  id: string;
  name: string;
  description: string | null;
  timezone: string;
  role: string;
  created_at: string;
  updated_at: string;
}

export interface Billing {
  plan: string;
  planName: string;
  status: string;
  active: boolean;
  entitlement: string;
  subscribedPlan: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  limits: { profiles: number | null; postsPerMonth: number | null; apiRequestsPerMonth: number | null; apiKeys: boolean; webhooks: boolean };
  addOns: { extraProfiles: number; whiteLabel: boolean };
  usage: {
    profiles: number;
    posts: { used: number; limit: number | null; fairUseLimit?: number };
    apiRequests: { used: number; limit: number | null };
    periodStart: string;
    resetsAt: string;
  };
  hasBillingAccount: boolean;
}

interface AppState {
  session: Session | null | undefined;
  profiles: Profile[] | undefined;
  profilesError: string | undefined;
  profile: Profile | undefined;
  selectProfile: (id: string) => void;
  reloadProfiles: () => Promise<void>;
  billing: Billing | undefined;
  reloadBilling: () => Promise<void>;
}

const Ctx = createContext<AppState>(undefined as unknown as AppState);
export const useApp = () => useContext(Ctx);

const PROFILE_KEY = "amplify.profile";

export function AppProvider(props: { children: ComponentChildren }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [profiles, setProfiles] = useState<Profile[] | undefined>();
  const [profilesError, setProfilesError] = useState<string | undefined>();
  const [selected, setSelected] = useState<string | null>(() => localStorage.getItem(PROFILE_KEY));
  const [billing, setBilling] = useState<Billing | undefined>();

  useEffect(() => {
    const auth = supabase().auth;
    void auth.getSession().then(({ data }) => setSession(data.session));
    const { data } = auth.onAuthStateChange((_event, s) => setSession(s));
    return () => data.subscription.unsubscribe();
  }, []);

  const userId = session?.user.id;
  const reloadProfiles = useCallback(async () => {
    if (!userId) return;
    setProfilesError(undefined);
    try {
      const all: Profile[] = [];
      let cursor: string | null = null;
      do {
        const page: { profiles: Profile[]; nextCursor: string | null } = await api("GET", "/api/v1/profiles", { query: { limit: 100, cursor } });
        all.push(...page.profiles);
        cursor = page.nextCursor;
      } while (cursor);
      setProfiles(all);
    } catch (e) {
      setProfilesError(messageOf(e));
    }
  }, [userId]);
  const reloadBilling = useCallback(async () => {
    if (!userId) return;
    try {
      setBilling(await api("GET", "/api/billing/subscription-status"));
    } catch {
      // The billing page shows its own error; the shell works without it.
    }
  }, [userId]);

  useEffect(() => {
    setProfiles(undefined);
    setBilling(undefined);
    if (userId) {
      void reloadProfiles();
      void reloadBilling();
    }
  }, [userId]);

  const profile = profiles?.find((p) => p.id === selected) ?? profiles?.[0];
  const selectProfile = (id: string) => {
    localStorage.setItem(PROFILE_KEY, id);
    setSelected(id);
  };

  return (
    <Ctx.Provider value={{ session, profiles, profilesError, profile, selectProfile, reloadProfiles, billing, reloadBilling }}>
      {props.children}
    </Ctx.Provider>
  );
}
