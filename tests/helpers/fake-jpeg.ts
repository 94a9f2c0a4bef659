/**
 * A tiny JPEG (one grey pixel, progressive) whose frame header claims the given size, for networks that read a JPEG's
 * dimensions (Instagram's aspect-ratio rule) without decoding it. Not a viewable picture at that size; tests only.
 */
const ONE_PIXEL =
  "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA=";

export function fakeJpeg(size: { width: number; height: number } = { width: 1080, height: 1080 }): Buffer {
  const jpeg = Buffer.concat([Buffer.from(ONE_PIXEL, "base64"), Buffer.from([0xff, 0xd9])]);
  const frame = jpeg.indexOf(Buffer.from([0xff, 0xc2]));
  jpeg.writeUInt16BE(size.height, frame + 5);
  jpeg.writeUInt16BE(size.width, frame + 7);
  return jpeg;
}
