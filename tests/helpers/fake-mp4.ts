/**
 * A small MP4 that every video sandbox accepts: `ftyp`, a `moov` with a movie header of the given duration, and an
 * `mdat` of filler up to `totalBytes`. Not playable (there are no tracks); for tests and demos only.
 */
export function fakeMp4(options: { durationSeconds?: number; totalBytes?: number } = {}): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write("ftypisom", 4, "latin1");
  ftyp.writeUInt32BE(0x200, 12);
  ftyp.write("isommp41", 16, "latin1");
  const mvhd = Buffer.alloc(108);
  mvhd.writeUInt32BE(108, 0);
  mvhd.write("mvhd", 4, "latin1");
  const timescale = 1000;
  mvhd.writeUInt32BE(timescale, 20);
  mvhd.writeUInt32BE(Math.round((options.durationSeconds ?? 5) * timescale), 24);
  mvhd.writeUInt32BE(0x00010000, 28); // rate 1.0
  mvhd.writeUInt16BE(0x0100, 32); // volume 1.0
  const moov = Buffer.concat([Buffer.from([0, 0, 0, 8 + 108]), Buffer.from("moov", "latin1"), mvhd]);
  const head = Buffer.concat([ftyp, moov]);
  const mdatSize = Math.max(8, (options.totalBytes ?? 2048) - head.length);
  const mdat = Buffer.alloc(mdatSize, 0x2a);
  mdat.writeUInt32BE(mdatSize, 0);
  mdat.write("mdat", 4, "latin1");
  return Buffer.concat([head, mdat]);
}
