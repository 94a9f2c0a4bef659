import { createClient, type SupabaseClient } from "@supabase/supabase-js";

/** supabase-js opens a Realtime socket only when asked; the tests never ask, and this makes any attempt loud. */
class NoWebSocket {
  constructor() {
    throw new Error("Realtime is not used in these tests");
  }
}

/**
 * The one supabase-js setup the tests use: no stored session, no background refresh, no Realtime, and optionally a
 * `fetch` that hands requests straight to an in-process emulator.
 */
export function supabaseClient(url: string, key: string, options: { fetch?: typeof fetch } = {}): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoWebSocket as never },
    ...(options.fetch ? { global: { fetch: options.fetch } } : {}),
  });
}
