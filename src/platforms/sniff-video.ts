/**
 * Just enough of the ISO base media file format (MP4, MOV) and of EBML (WebM) to tell a video container from other
 * bytes and to read an MP4's duration from its movie header (`moov/mvhd`), without decoding anything. Adapters use it
 * to refuse what a network would refuse before uploading it (TikTok's per-creator maximum duration); the sandboxes
 * use it as the networks' ingest check.
 */

export interface VideoFacts {
  mimeType: "video/mp4" | "video/quicktime" | "video/webm";
  /** From the MP4/MOV movie header, when there is one. */
  durationSeconds?: number;
}

/** `ftyp` major brands that are still images or audio in an ISO container (HEIF, AVIF, M4A), not video. */
const NOT_VIDEO_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis", "M4A ", "M4B ", "M4P "]);
/** A bound on the boxes walked, so that a crafted file cannot make the walk long. */
const MAX_BOXES = 10_000;

export function sniffVideo(bytes: Uint8Array): VideoFacts | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 4 && b.readUInt32BE(0) === 0x1a45dfa3) return { mimeType: "video/webm" };
  if (b.length < 12 || b.toString("latin1", 4, 8) !== "ftyp") return undefined;
  const brand = b.toString("latin1", 8, 12);
  if (NOT_VIDEO_BRANDS.has(brand)) return undefined;
  const durationSeconds = movieDurationSeconds(b);
  return { mimeType: brand === "qt  " ? "video/quicktime" : "video/mp4", ...(durationSeconds === undefined ? {} : { durationSeconds }) };
}

interface Box {
  type: string;
  /** Offset of the box's content (after its header). */
  start: number;
  end: number;
}

/** The boxes directly inside `[from, to)`; stops at the first malformed header. */
function* boxes(b: Buffer, from: number, to: number): Generator<Box> {
  let offset = from;
  for (let count = 0; count < MAX_BOXES && offset + 8 <= to; count++) {
    let size = b.readUInt32BE(offset);
    const type = b.toString("latin1", offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > to) return;
      const large = b.readBigUInt64BE(offset + 8);
      if (large > BigInt(to - offset)) return;
      size = Number(large);
      header = 16;
    } else if (size === 0) {
      size = to - offset;
    }
    if (size < header || offset + size > to) return;
    yield { type, start: offset + header, end: offset + size };
    offset += size;
  }
}

function movieDurationSeconds(b: Buffer): number | undefined {
  for (const moov of boxes(b, 0, b.length)) {
    if (moov.type !== "moov") continue;
    for (const box of boxes(b, moov.start, moov.end)) {
      if (box.type !== "mvhd" || box.end - box.start < 20) continue;
      const version = b[box.start];
      // version 0: creation, modification (4 bytes each), timescale, duration (4); version 1: 8, 8, 4, 8.
      if (version === 1) {
        if (box.end - box.start < 32) return undefined;
        const timescale = b.readUInt32BE(box.start + 20);
        const duration = Number(b.readBigUInt64BE(box.start + 24));
        return timescale > 0 ? duration / timescale : undefined;
      }
      const timescale = b.readUInt32BE(box.start + 12);
      const duration = b.readUInt32BE(box.start + 16);
      return timescale > 0 ? duration / timescale : undefined;
    }
  }
  return undefined;
}
