import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** One benchmark input: its bytes on disk (the Python baselines read the same file) and its size. */
export interface BenchImage {
  name: string;
  path: string;
  bytes: Buffer;
  width: number;
  height: number;
  format: 'png' | 'jpeg';
}

/** mulberry32: a seeded generator, so every run (and machine) benchmarks the same pixels. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Photo-like pixels: smooth colour fields (a few low-frequency waves with seeded phases), hard-
 * edged shapes, and a little per-pixel sensor noise. The noise matters: a noiseless synthetic image
 * compresses far better than a photo and would make PNG encoding look cheaper than it is.
 */
function photoLike(width: number, height: number, channels: 1 | 3, seed: number): Buffer {
  const rnd = seeded(seed);
  const waves = Array.from({ length: 4 }, () => ({
    fx: (0.5 + rnd() * 3) / width,
    fy: (0.5 + rnd() * 3) / height,
    phase: rnd() * Math.PI * 2,
    colour: [rnd(), rnd(), rnd()],
  }));
  const shapes = Array.from({ length: 7 }, () => ({
    cx: rnd() * width,
    cy: rnd() * height,
    r: (0.05 + rnd() * 0.2) * Math.min(width, height),
    square: rnd() < 0.4,
    colour: [rnd() * 255, rnd() * 255, rnd() * 255],
  }));
  const data = Buffer.alloc(width * height * channels);
  const rgb = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rgb[0] = rgb[1] = rgb[2] = 40;
      for (const w of waves) {
        const v = 0.5 + 0.5 * Math.sin(2 * Math.PI * (w.fx * x + w.fy * y) + w.phase);
        for (let c = 0; c < 3; c++) rgb[c]! += 50 * v * w.colour[c]!;
      }
      for (const s of shapes) {
        const dx = x - s.cx;
        const dy = y - s.cy;
        const inside = s.square ? Math.abs(dx) < s.r && Math.abs(dy) < s.r : dx * dx + dy * dy < s.r * s.r;
        if (inside) {
          // Shaded, not flat: light falls off across the shape as on a real object.
          const shade = 0.75 + 0.25 * ((dx + dy) / (2 * s.r));
          for (let c = 0; c < 3; c++) rgb[c] = s.colour[c]! * shade;
        }
      }
      const noise = (rnd() - 0.5) * 10;
      const i = (y * width + x) * channels;
      if (channels === 1) data[i] = clamp(0.3 * rgb[0]! + 0.59 * rgb[1]! + 0.11 * rgb[2]! + noise);
      else for (let c = 0; c < 3; c++) data[i + c] = clamp(rgb[c]! + noise);
    }
  }
  return data;
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

interface Spec {
  name: string;
  width: number;
  height: number;
  channels: 1 | 3;
  format: 'png' | 'jpeg';
  seed: number;
}

/** The augmentation inputs and, with a `-mix` twin of each, CutMix's second image. */
export const AUGMENT_INPUTS: Spec[] = [
  { name: 'photo-512.png', width: 512, height: 512, channels: 3, format: 'png', seed: 1 },
  { name: 'photo-1024x768.jpg', width: 1024, height: 768, channels: 3, format: 'jpeg', seed: 2 },
];

/** Classifier inputs: a Fashion-MNIST-sized grey PNG and a VGA photo for the 224×224 model. */
export const INFERENCE_INPUTS = {
  gray28: { name: 'item-28.png', width: 28, height: 28, channels: 1, format: 'png', seed: 3 } satisfies Spec,
  photo: { name: 'photo-640x480.jpg', width: 640, height: 480, channels: 3, format: 'jpeg', seed: 4 } satisfies Spec,
};

async function render(spec: Spec, dir: string): Promise<BenchImage> {
  const path = join(dir, spec.name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    const raw = photoLike(spec.width, spec.height, spec.channels, spec.seed);
    let image = sharp(raw, { raw: { width: spec.width, height: spec.height, channels: spec.channels } });
    if (spec.channels === 1) image = image.toColourspace('b-w');
    bytes = spec.format === 'png' ? await image.png().toBuffer() : await image.jpeg({ quality: 90 }).toBuffer();
    await writeFile(path, bytes);
  }
  return { name: spec.name, path, bytes, width: spec.width, height: spec.height, format: spec.format };
}

/** Writes (once) and reads an input and its CutMix partner (same size, other seed). */
export async function augmentInput(spec: Spec, dir: string): Promise<{ image: BenchImage; mix: BenchImage }> {
  await mkdir(dir, { recursive: true });
  const mixName = spec.name.replace(/(\.\w+)$/, '-mix$1');
  return { image: await render(spec, dir), mix: await render({ ...spec, name: mixName, seed: spec.seed + 100 }, dir) };
}

export async function inferenceInput(spec: Spec, dir: string): Promise<BenchImage> {
  await mkdir(dir, { recursive: true });
  return render(spec, dir);
}
