import { writeFileSync } from "node:fs";
import { fakeJpeg } from "../tests/helpers/fake-jpeg.js";
import { fakeMp4 } from "../tests/helpers/fake-mp4.js";

/**
 * Writes sample.jpg (1080×1080) and sample.mp4 (a small, well-formed MP4 of a few seconds) into the current folder,
 * for trying uploads against the local home: the sandbox networks check the bytes' type and dimensions, not pixels.
 */
writeFileSync("sample.jpg", fakeJpeg());
writeFileSync("sample.mp4", fakeMp4({ durationSeconds: 5 }));
console.log("wrote sample.jpg and sample.mp4");
