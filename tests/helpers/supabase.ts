import { createClient, type SupabaseClient } from "@supabase/supabase-js";

/**
 * supabase-js 2.119 builds its Realtime client eagerly and needs a WebSocket constructor, which Node 20 lacks (native
 * WebSocket arrived in Node 22). The tests never use Realtime, so a constructor that refuses is enough, and loud.
 */
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
