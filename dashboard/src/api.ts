import { createClient, type Session, type SupabaseClient } from "@supabase/supabase-js";

/** The error an API call ends in: the API's own message (its error envelope), its code and status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
    readonly details?: { field: string; message: string }[],
  ) {
    super(message);
  }
}

let client: SupabaseClient | undefined;

/** Supabase Auth with the public values from GET /api/config (the anon key is public by design). */
export async function initSupabase(): Promise<SupabaseClient> {
  if (client) return client;
  const res = await fetch("/api/config", { headers: { accept: "application/json" } });
  if (!res.ok) throw new ApiError(`Could not load the app's configuration (HTTP ${res.status})`, res.status);
  const config = (await res.json()) as { supabaseUrl: string; supabaseAnonKey: string };
  client = createClient(config.supabaseUrl, config.supabaseAnonKey, {
    // The session lives in this origin's storage and refreshes itself; nothing is read from or written to URLs.
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, flowType: "pkce" },
  });
  return client;
}

export function supabase(): SupabaseClient {
  if (!client) throw new Error("Supabase is not initialised");
  return client;
}

async function accessToken(): Promise<string | undefined> {
  const { data } = await supabase().auth.getSession();
  return data.session?.access_token;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
}

/** Calls our API with the session's access token in the Authorization header (never in the URL). */
export async function api<T = any>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  const token = await accessToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch {
    throw new ApiError("The network request failed: check your connection and try again", 0);
  }
  const text = await res.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const message = (body && typeof body === "object" && (body.error || body.message)) || `Request failed (HTTP ${res.status})`;
    const details = body?.details as ApiError["details"];
    const detail = details?.length ? `: ${details.map((d) => `${d.field ? `${d.field}: ` : ""}${d.message}`).join("; ")}` : "";
    throw new ApiError(`${message}${detail && !String(message).includes(details![0]!.message) ? detail : ""}`, res.status, body?.code, details);
  }
  return body as T;
}

export type { Session };

/** PUTs a file to a signed Storage upload URL, reporting progress (0..1). */
export function uploadWithProgress(signedUrl: string, file: File, onProgress: (fraction: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", signedUrl);
    xhr.setRequestHeader("content-type", file.type);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        let message = `Upload failed (HTTP ${xhr.status})`;
        try {
          const b = JSON.parse(xhr.responseText);
          message = b.message || b.error || message;
        } catch {}
        reject(new ApiError(message, xhr.status));
      }
    };
    xhr.onerror = () => reject(new ApiError("The upload failed: network error", 0));
    xhr.send(file);
  });
}
