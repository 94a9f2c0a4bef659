import { isMediaType, mediaTypes, type MediaType } from "./limits.js";

/** How many leading bytes recognising a file needs. */
export const SNIFF_BYTES = 16;

const ascii = (bytes: Uint8Array, start: number, length: number) => String.fromCharCode(...bytes.subarray(start, start + length));
const startsWith = (bytes: Uint8Array, signature: number[]) => signature.every((b, i) => bytes[i] === b);

/** Atoms a QuickTime file without an `ftyp` box may start with. */
const quickTimeAtoms = new Set(["moov", "mdat", "wide", "free", "skip", "pnot"]);

/**
 * The media type the leading bytes say the file is, among the types we take, or undefined when they are none of
 * them: PNG and JPEG by signature, GIF87a/GIF89a, WebP (a RIFF container of form WEBP), and ISO base media files by
 * their `ftyp` box, whose major brand `qt  ` marks QuickTime (older QuickTime files start with a bare atom instead).
 */
export function sniffMediaType(head: Uint8Array): MediaType | undefined {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(head, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (ascii(head, 0, 6) === "GIF87a" || ascii(head, 0, 6) === "GIF89a") return "image/gif";
  if (ascii(head, 0, 4) === "RIFF" && ascii(head, 8, 4) === "WEBP") return "image/webp";
  const box = ascii(head, 4, 4);
  if (box === "ftyp") return ascii(head, 8, 4) === "qt  " ? "video/quicktime" : "video/mp4";
  if (head.length >= 8 && quickTimeAtoms.has(box)) return "video/quicktime";
  return undefined;
}

/**
 * Why the bytes are not the declared type, or undefined when they are (or when the declared type is not one we can
 * recognise, so there is nothing to say).
 */
export function signatureMismatch(declared: string, head: Uint8Array): string | undefined {
  if (!isMediaType(declared)) return undefined;
  const actual = sniffMediaType(head);
  if (actual === declared) return undefined;
  const label = mediaTypes[declared].label;
  return actual
    ? `The file was declared as ${declared} but its bytes are a ${mediaTypes[actual].label} (${actual})`
    : `The file was declared as ${declared} but its bytes are not a ${label}`;
}
