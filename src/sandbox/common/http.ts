import { createHash, randomBytes, randomInt } from "node:crypto";
import { readStreamCapped } from "../../core/http.js";
import { Reply } from "../../local/emulator.js";

/**
 * Responses, request bodies, ids and tokens. JSON answers, the thrown `Reply` and the route tables come from
 * src/local/emulator.ts (each network passes its own 404/405 wording).
 */


export function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

export function htmlPage(status: number, title: string, message: string): Response {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1><p>${escape(message)}</p></body></html>`;
  return new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8" } });
}

/** `redirectUri` with `params` added to its query (keeping any query it already has), as a 302. */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): Response {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return new Response(null, { status: 302, headers: { location: url.toString(), "cache-control": "no-store" } });
}

// --- request bodies ------------------------------------------------------------------------------------------------

/** Reads at most `maxBytes` of the body; more is answered with `tooLarge()`. */
export async function readBytes(req: Request, maxBytes: number, tooLarge: () => Response): Promise<Buffer> {
  if (Number(req.headers.get("content-length") ?? "0") > maxBytes) throw new Reply(tooLarge());
  return readStreamCapped(req.body, maxBytes, () => new Reply(tooLarge()));
}

export async function readForm(req: Request, tooLarge: () => Response): Promise<URLSearchParams> {
  const bytes = await readBytes(req, 64 * 1024, tooLarge);
  return new URLSearchParams(Buffer.from(bytes).toString("utf8"));
}

/** The JSON body, or `invalid()` when it is not a JSON object. */
export async function readJsonObject(req: Request, invalid: () => Response): Promise<Record<string, unknown>> {
  const bytes = await readBytes(req, 1024 * 1024, invalid);
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new Reply(invalid());
}

/** decodeURIComponent that answers undefined for malformed input instead of throwing. */
export function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function bearerToken(req: Request): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "");
  return match?.[1];
}

// --- ids and tokens ------------------------------------------------------------------------------------------------

/** A 19-digit, time-ordered id like X's and LinkedIn's numeric ids (a snowflake: milliseconds, then random bits). */
export function snowflakeId(now: Date): string {
  const epoch = 1_288_834_974_657n;
  return (((BigInt(now.getTime()) - epoch) << 22n) | BigInt(randomInt(0, 1 << 22))).toString();
}

export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString("base64url");
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

export function pkceMatches(verifier: string, challenge: string, method: string): boolean {
  const computed = method === "plain" ? verifier : createHash("sha256").update(verifier).digest("base64url");
  return computed === challenge;
}

/** The image type of some bytes by their signature (what a network's media pipeline trusts, not the declared type). */
export function sniffImage(bytes: Uint8Array): { mimeType: string; width?: number; height?: number } | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) {
    return { mimeType: "image/png", width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { mimeType: "image/jpeg" };
  if (b.length >= 10 && b.toString("ascii", 0, 4) === "GIF8") {
    return { mimeType: "image/gif", width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  }
  if (b.length >= 12 && b.toString("ascii", 0, 4) === "RIFF" && b.toString("ascii", 8, 12) === "WEBP") return { mimeType: "image/webp" };
  return undefined;
}
