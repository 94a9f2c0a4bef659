import { randomBytes, randomInt } from "node:crypto";
import type { ErrorCategory } from "../../platforms/types.js";
import { type Grant, json, readBytes, Reply, type SandboxContext, sha256Hex, sniffImage } from "../common.js";
import type { MetaDialect } from "./dialect.js";

/** Meta's Graph envelope, parameters, fetched media and ids, shared by the Meta sandboxes (Instagram, Threads, Facebook). */

// --- Graph errors ----------------------------------------------------------------------------------------------------

export interface GraphErrorFields {
  message: string;
  code: number;
  subcode?: number;
  type?: string;
  transient?: boolean;
  userTitle?: string;
  userMessage?: string;
}

/** Meta's error envelope: `{"error":{message,type,code,error_subcode,is_transient,…,fbtrace_id}}`. */
export function graphError(status: number, e: GraphErrorFields, headers: Record<string, string> = {}): Response {
  return json(
    status,
    {
      error: {
        message: e.message,
        type: e.type ?? "OAuthException",
        code: e.code,
        ...(e.subcode !== undefined ? { error_subcode: e.subcode } : {}),
        is_transient: e.transient ?? false,
        ...(e.userTitle ? { error_user_title: e.userTitle } : {}),
        ...(e.userMessage ? { error_user_msg: e.userMessage } : {}),
        fbtrace_id: randomBytes(9).toString("base64url"),
      },
    },
    headers,
  );
}

export const noSuchObject = (id: string) =>
  graphError(400, {
    message: `Unsupported request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
    code: 100,
    subcode: 33,
    type: "GraphMethodException",
  });
export const unknownPath = (path: string) => graphError(400, { message: `Unknown path components: ${path}`, code: 2500 });
export const invalidParameter = (message: string) => graphError(400, { message: `(#100) ${message}`, code: 100 });

export const describeDay = (d: Date) => d.toUTCString().replace("GMT", "PST");
export const tokenErrors = {
  missing: () => graphError(400, { message: "An active access token must be used to query information about the current user.", code: 2500 }),
  unknown: () => graphError(400, { message: "Invalid OAuth access token - Cannot parse access token", code: 190 }),
  expired: (g: Grant | undefined, now: Date) =>
    graphError(400, {
      message: `Error validating access token: Session has expired on ${describeDay(g?.expires_at ?? now)}. The current time is ${describeDay(now)}.`,
      code: 190,
      subcode: 463,
    }),
  revoked: (g: Grant | undefined) =>
    graphError(400, { message: `Error validating access token: The user has not authorized application ${g?.client_id ?? ""}.`, code: 190, subcode: 458 }),
};

/** Meta's answer to an injected failure of each category; media_* are container states instead. */
export function injectedGraphError(category: Exclude<ErrorCategory, "media_error" | "media_processing">, dialect: MetaDialect, accountId: string, now: Date): Response {
  switch (category) {
    case "rate_limited":
      return dialect.throttled(accountId, { limit: dialect.limits.callsPerHour, remaining: 0, reset: Math.floor(now.getTime() / 1000) + 60 });
    case "auth_error":
      return tokenErrors.expired(undefined, new Date(now.getTime() - 60_000));
    case "network_error":
      return graphError(500, { message: "An unexpected error has occurred. Please retry your request later.", code: 2, transient: true });
    case "duplicate":
      return graphError(400, { message: "(#506) Duplicate status message", code: 506 });
    case "unknown":
      return dialect.restricted();
  }
}

// --- requests --------------------------------------------------------------------------------------------------------

/** Graph parameters: the query, plus an urlencoded, multipart or JSON body (Graph accepts them all). */
export async function graphParams(req: Request): Promise<URLSearchParams> {
  const params = new URLSearchParams(new URL(req.url).searchParams);
  if (req.method === "GET" || req.method === "HEAD") return params;
  const type = req.headers.get("content-type") ?? "";
  const raw = await readBytes(req, 256 * 1024, () => graphError(413, { message: "Request body too large", code: 100 }));
  if (!raw.length) return params;
  if (type.startsWith("multipart/form-data")) {
    const form = await new Response(new Uint8Array(raw), { headers: { "content-type": type } }).formData().catch(() => undefined);
    for (const [key, value] of form?.entries() ?? []) if (typeof value === "string") params.set(key, value);
  } else if (type.startsWith("application/json")) {
    try {
      const body: unknown = JSON.parse(raw.toString("utf8"));
      if (body && typeof body === "object") {
        for (const [key, value] of Object.entries(body)) if (["string", "number", "boolean"].includes(typeof value)) params.set(key, String(value));
      }
    } catch {
      throw new Reply(invalidParameter("Request body is not valid JSON"));
    }
  } else {
    for (const [key, value] of new URLSearchParams(raw.toString("utf8"))) params.set(key, value);
  }
  return params;
}

/** The token from `access_token`, or from `Authorization: Bearer …` / `Authorization: OAuth …`. */
export function tokenOf(req: Request, params: URLSearchParams): string | undefined {
  const header = /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  return params.get("access_token") ?? header?.[1];
}

export async function accessGrant(ctx: SandboxContext, network: string, token: string | undefined): Promise<Grant> {
  if (!token) throw new Reply(tokenErrors.missing());
  const [row] = await ctx.sql<Grant[]>`
    select * from local_sandbox.grants where token = ${token} and network = ${network} and kind = 'access'`;
  if (!row) throw new Reply(tokenErrors.unknown());
  if (row.revoked_at) throw new Reply(tokenErrors.revoked(row));
  if (row.expires_at && row.expires_at <= ctx.now()) throw new Reply(tokenErrors.expired(row, ctx.now()));
  return row;
}

// --- media -----------------------------------------------------------------------------------------------------------

export type FetchedMedia = { ok: true; bytes: Buffer; contentType: string | undefined } | { ok: false; reason: "unreachable" | "status" | "too_large" };

/** Downloads media from its public URL as Meta's fetcher does: bounded in time and size, redirects followed. */
export async function fetchMedia(url: string, maxBytes: number, timeoutMs = 10_000): Promise<FetchedMedia> {
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url)) return { ok: false, reason: "unreachable" };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: "status" };
    }
    if (Number(res.headers.get("content-length") ?? "0") > maxBytes) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: "too_large" };
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body?.getReader();
    for (;;) {
      const next = reader ? await reader.read() : { done: true as const, value: undefined };
      if (next.done) break;
      total += next.value.byteLength;
      if (total > maxBytes) {
        await reader?.cancel().catch(() => {});
        return { ok: false, reason: "too_large" };
      }
      chunks.push(next.value);
    }
    return { ok: true, bytes: Buffer.concat(chunks), contentType: res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() };
  } catch {
    return { ok: false, reason: "unreachable" };
  }
}

/** Width and height of a JPEG, from its start-of-frame segment. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame && i + 9 <= b.length) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + length;
  }
  return undefined;
}

export interface ImageFacts {
  mimeType: string;
  width?: number;
  height?: number;
  sizeBytes: number;
}

/** An image's type by signature and its dimensions (PNG and GIF from their headers, JPEG from its frame). */
export function imageFacts(bytes: Buffer): ImageFacts | undefined {
  const image = sniffImage(bytes);
  if (!image) return undefined;
  const size = image.mimeType === "image/jpeg" ? jpegSize(bytes) : image.width !== undefined ? { width: image.width, height: image.height! } : undefined;
  return { mimeType: image.mimeType, ...size, sizeBytes: bytes.byteLength };
}

// --- ids ------------------------------------------------------------------------------------------------------------

/** A numeric Graph id (17 digits, like Instagram's and Threads' media ids). */
export function graphId(prefix = "17"): string {
  let digits = prefix;
  while (digits.length < 17) digits += String(randomInt(0, 10));
  return digits;
}

/** A stable 11-character shortcode for a media id, as in instagram.com/p/<shortcode>/. */
export function shortcodeOf(id: string): string {
  return Buffer.from(sha256Hex(id), "hex").toString("base64url").slice(0, 11);
}
