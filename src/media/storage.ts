import type { SupabaseClient } from "@supabase/supabase-js";
import type { Env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import { mediaBucket } from "./limits.js";

/** A signed upload as the contract's `upload` object carries it. */
export interface SignedUpload {
  bucket: string;
  path: string;
  token: string;
  signedUrl: string;
}

/** The few Storage operations media needs. One implementation: supabase-js, against Supabase or the local emulator. */
export interface MediaStorage {
  /**
   * A URL the client PUTs the file to, valid for two hours, usable once (no overwrite). `declared` is what the
   * client said it will send; see `declaredHeaders`.
   */
  createSignedUpload(path: string, declared: { contentType: string; fileSize: number }): Promise<SignedUpload>;
  /** Where anyone (the networks included) reads the file once uploaded. Computed, no request. */
  publicUrl(path: string): string;
  /** Removes the file; removing one that is not there is not an error. */
  remove(path: string): Promise<void>;
}

/**
 * Sent with the signing request so the local emulator can refuse, at the PUT, a body of another type or size than
 * declared. Supabase Storage ignores them (a signed upload URL cannot carry such limits there): in both homes the
 * guarantee is the check made when the media is attached to a post (src/media/verify.ts).
 */
export const declaredHeaders = { contentType: "x-amplify-declared-content-type", fileSize: "x-amplify-declared-content-length" } as const;

/** supabase-js 2.x builds a Realtime client eagerly and needs a WebSocket constructor (Node 20 has none); none is used. */
class RealtimeUnused {
  constructor() {
    throw new Error("Realtime is not used by the media function");
  }
}

function storageFailure(operation: string, error: unknown): AppError {
  log.error("storage request failed", { operation, error });
  return new AppError("service_unavailable", "Media storage is unavailable; try again shortly");
}

function createMediaStorage(client: SupabaseClient): MediaStorage {
  const bucket = () => client.storage.from(mediaBucket.id);
  return {
    async createSignedUpload(path, declared) {
      const files = bucket()
        .setHeader(declaredHeaders.contentType, declared.contentType)
        .setHeader(declaredHeaders.fileSize, String(declared.fileSize));
      const { data, error } = await files.createSignedUploadUrl(path);
      if (error) throw storageFailure("createSignedUploadUrl", error);
      return { bucket: mediaBucket.id, path: data.path, token: data.token, signedUrl: data.signedUrl };
    },
    publicUrl(path) {
      return bucket().getPublicUrl(path).data.publicUrl;
    },
    async remove(path) {
      const { error } = await bucket().remove([path]);
      if (error) throw storageFailure("remove", error);
    },
  };
}

/**
 * A storage client for the environment, with the service-role key. supabase-js is loaded here, so only the media
 * function pays for it. `services().storage()` keeps one per environment.
 */
export async function loadMediaStorage(e: Env): Promise<MediaStorage> {
  const key = e.SUPABASE_SERVICE_ROLE_KEY;
  if (!key) {
    log.error("SUPABASE_SERVICE_ROLE_KEY is not set: media storage is unavailable");
    throw new AppError("service_unavailable", "Media storage is not configured on this server");
  }
  const { createClient } = await import("@supabase/supabase-js");
  return createMediaStorage(
    createClient(e.SUPABASE_URL, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: { transport: RealtimeUnused as never },
    }),
  );
}
