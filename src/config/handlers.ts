import { route } from "../core/api.js";
import { publicConfigResponse } from "./schemas.js";

// The public values a browser needs to talk to Supabase Auth (same shape in both homes)
export const publicConfigRoute = route("GET /api/config", {
  auth: "none",
  response: publicConfigResponse,
  handle: async ({ services }) => ({ supabaseUrl: services.env.SUPABASE_URL, supabaseAnonKey: services.env.SUPABASE_ANON_KEY }),
});
