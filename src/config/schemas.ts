import { z } from "zod";

/** The public values a browser needs to talk to Supabase Auth. */
export const publicConfigResponse = z.strictObject({ supabaseUrl: z.string(), supabaseAnonKey: z.string() });
