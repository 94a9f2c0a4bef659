import { route } from "../core/api.js";
import { env } from "../core/env.js";

// GET /api/config — the public values a browser needs to talk to Supabase Auth (same shape in both homes)
export const publicConfigHandler = route({
  auth: "none",
  handle: async () => ({ supabaseUrl: env().SUPABASE_URL, supabaseAnonKey: env().SUPABASE_ANON_KEY }),
});
