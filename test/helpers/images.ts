import sharp from 'sharp';

/**
 * A deterministic test photo-like image: smooth gradients plus a few hard-edged shapes, so
 * that flips, rotations and crops all change pixels in ways a test can see.
 */
export async function makeImage(
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp' | 'avif' | 'gif' | 'tiff' = 'png',
  channels: 1 | 3 | 4 = 3,
): Promise<Buffer> {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const r = (x * 255) / Math.max(1, width - 1);
      const g = (y * 255) / Math.max(1, height - 1);
      const b = (x * 7 + y * 13) % 256;
      const inSquare = x > width / 5 && x < width / 2 && y > height / 6 && y < height / 3;
      const values = inSquare ? [250, 20, 30, 255] : [r, g, b, 128 + ((x + y) % 128)];
      if (channels === 1) data[i] = Math.round(0.3 * values[0]! + 0.6 * values[1]! + 0.1 * values[2]!);
      else for (let c = 0; c < channels; c++) data[i + c] = Math.round(values[c]!);
    }
  }
  const image = sharp(data, { raw: { width, height, channels } });
  return (channels === 1 ? image.toColourspace('b-w') : image)[format]().toBuffer();
}

/** Decode any image to raw pixels for comparison. */
export async function pixels(bytes: Buffer) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}
