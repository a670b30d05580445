import sharp from 'sharp';

/** A single-channel 8-bit PNG from raw values. */
export function greyPng(data: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(data), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** A single-channel mask with `value` on the pixels of each integer box `[x1, y1, x2, y2)`. */
export function paintBoxes(width: number, height: number, boxes: Array<{ box: number[]; value: number }>): Uint8Array {
  const data = new Uint8Array(width * height);
  for (const { box: [x1, y1, x2, y2], value } of boxes) {
    for (let y = y1!; y < y2!; y++) data.fill(value, y * width + x1!, y * width + x2!);
  }
  return data;
}

/** Decodes a base64 PNG mask to one value per pixel. */
export async function decodeMask(base64: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(Buffer.from(base64, 'base64')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Bounding box `[x1, y1, x2, y2]` (x2, y2 exclusive) of the pixels where `test` holds; undefined if none. */
export function regionBox(mask: { data: Uint8Array; width: number; height: number }, test: (v: number) => boolean): number[] | undefined {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!test(mask.data[y * mask.width + x]!)) continue;
      x1 = Math.min(x1, x);
      y1 = Math.min(y1, y);
      x2 = Math.max(x2, x + 1);
      y2 = Math.max(y2, y + 1);
    }
  }
  return x1 === Infinity ? undefined : [x1, y1, x2, y2];
}

/** Centroid of the pixel centres holding `value`; undefined if none. */
export function dotCentre(mask: { data: Uint8Array; width: number; height: number }, value: number): [number, number] | undefined {
  let [sx, sy, n] = [0, 0, 0];
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x] !== value) continue;
      sx += x + 0.5;
      sy += y + 0.5;
      n++;
    }
  }
  return n === 0 ? undefined : [sx / n, sy / n];
}
