/**
 * docs/mosaic-example.png: one Mosaic of four generated street-like scenes, made through the HTTP
 * API (`POST /v1/augment/mosaic` on a loopback server), with the boxes it answered drawn over it.
 * Each scene is drawn from a fixed seed with its objects' boxes known, so the drawn boxes show
 * where the service says each object went.
 *
 *   node --import tsx scripts/mosaic-example.ts [out.png]
 */
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { buildAugmentApp } from '../services/augment/app.ts';
import { readAugmentConfig } from '../services/augment/config.ts';
import { createRng } from '../services/augment/random.ts';

type Box = [number, number, number, number];
interface Scene {
  png: Buffer;
  boxes: Box[];
  labels: string[];
}

const COLOURS: Record<string, string> = { car: '#ef4444', tree: '#22c55e', house: '#3b82f6', sun: '#eab308' };

/** A scene of width×height: sky and ground gradients, a sun, houses, trees and cars, with their boxes. */
async function scene(width: number, height: number, seed: number): Promise<Scene> {
  const rng = createRng(seed);
  const horizon = Math.round(height * rng.uniform(0.45, 0.6));
  const shapes: string[] = [];
  const boxes: Box[] = [];
  const labels: string[] = [];
  const add = (label: string, box: Box, svg: string) => {
    shapes.push(svg);
    boxes.push(box.map(Math.round) as Box);
    labels.push(label);
  };
  const r = Math.round(Math.min(width, height) * rng.uniform(0.05, 0.08));
  const [sx, sy] = [rng.uniform(r, width - r), rng.uniform(r, horizon * 0.6)];
  add('sun', [sx - r, sy - r, sx + r, sy + r], `<circle cx="${sx}" cy="${sy}" r="${r}" fill="#fde047"/>`);
  for (let i = 0; i < 2; i++) {
    const w = width * rng.uniform(0.15, 0.25);
    const h = w * rng.uniform(0.7, 1.1);
    const x = rng.uniform(0, width - w);
    const y = horizon - h * 0.9;
    const roof = h * 0.35;
    add('house', [x, y - roof, x + w, y + h], `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="hsl(${rng.int(0, 360)},35%,60%)"/><polygon points="${x},${y} ${x + w / 2},${y - roof} ${x + w},${y}" fill="#7f1d1d"/><rect x="${x + w * 0.4}" y="${y + h * 0.55}" width="${w * 0.2}" height="${h * 0.45}" fill="#451a03"/>`);
  }
  for (let i = 0; i < 3; i++) {
    const h = height * rng.uniform(0.15, 0.3);
    const x = rng.uniform(0, width - h * 0.5);
    const base = horizon + rng.uniform(0, (height - horizon) * 0.3);
    add('tree', [x, base - h, x + h * 0.5, base], `<rect x="${x + h * 0.2}" y="${base - h * 0.35}" width="${h * 0.1}" height="${h * 0.35}" fill="#78350f"/><ellipse cx="${x + h * 0.25}" cy="${base - h * 0.65}" rx="${h * 0.25}" ry="${h * 0.35}" fill="#15803d"/>`);
  }
  for (let i = 0; i < 2; i++) {
    const w = width * rng.uniform(0.12, 0.2);
    const h = w * 0.45;
    const x = rng.uniform(0, width - w);
    const y = rng.uniform(horizon + (height - horizon) * 0.4, height - h);
    const wheel = h * 0.22;
    add('car', [x, y, x + w, y + h], `<rect x="${x}" y="${y + h * 0.3}" width="${w}" height="${h * 0.5}" rx="${h * 0.1}" fill="hsl(${rng.int(0, 360)},70%,45%)"/><rect x="${x + w * 0.2}" y="${y}" width="${w * 0.55}" height="${h * 0.35}" rx="${h * 0.08}" fill="#93c5fd"/><circle cx="${x + w * 0.22}" cy="${y + h - wheel}" r="${wheel}" fill="#111827"/><circle cx="${x + w * 0.78}" cy="${y + h - wheel}" r="${wheel}" fill="#111827"/>`);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${rng.int(190, 230)},70%,55%)"/><stop offset="1" stop-color="#e0f2fe"/></linearGradient>
    <linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${rng.int(80, 120)},40%,45%)"/><stop offset="1" stop-color="#3f3f46"/></linearGradient></defs>
    <rect width="${width}" height="${horizon}" fill="url(#sky)"/><rect y="${horizon}" width="${width}" height="${height - horizon}" fill="url(#ground)"/>
    ${shapes.join('\n')}</svg>`;
  // A little sensor noise, so the scenes are not flat vector art.
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i]! + Math.round(rng.normal() * 6)));
  const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).png().toBuffer();
  return { png, boxes, labels };
}

async function main() {
  const out = process.argv[2] ?? 'docs/mosaic-example.png';
  const scenes = await Promise.all([[640, 480, 1], [480, 640, 2], [800, 500, 3], [560, 560, 4]].map(([w, h, s]) => scene(w!, h!, s!)));
  const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const form = new FormData();
    const file = (name: string, png: Buffer) => form.append(name, new Blob([new Uint8Array(png)], { type: 'image/png' }), `${name}.png`);
    file('image', scenes[0]!.png);
    for (const s of scenes.slice(1)) file('mix_image', s.png);
    const fields: Array<[string, string]> = [
      ['output_width', '640'], ['output_height', '640'], ['seed', '7'], ['format', 'png'], ['min_visibility', '0.2'],
      ['bboxes', JSON.stringify(scenes[0]!.boxes)], ['bbox_labels', JSON.stringify(scenes[0]!.labels)],
      ...scenes.slice(1).flatMap((s): Array<[string, string]> => [['mix_bboxes', JSON.stringify(s.boxes)], ['mix_bbox_labels', JSON.stringify(s.labels)]]),
    ];
    for (const [name, value] of fields) form.append(name, value);
    const response = await fetch(`${base}/v1/augment/mosaic`, { method: 'POST', body: form, headers: { Accept: 'application/json' } });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${response.status}: ${JSON.stringify(answer)}`);
    const { width, height, params, targets } = answer;
    const [cx, cy] = params.center;
    const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <line x1="${cx}" y1="0" x2="${cx}" y2="${height}" stroke="white" stroke-width="1" stroke-dasharray="6 4"/>
      <line x1="0" y1="${cy}" x2="${width}" y2="${cy}" stroke="white" stroke-width="1" stroke-dasharray="6 4"/>
      ${targets.bboxes.map(([x1, y1, x2, y2]: number[], i: number) => {
        const label = targets.bbox_labels[i];
        const colour = COLOURS[label] ?? 'white';
        return `<rect x="${x1}" y="${y1}" width="${x2! - x1!}" height="${y2! - y1!}" fill="none" stroke="${colour}" stroke-width="2"/>
          <text x="${x1! + 2}" y="${Math.max(y1! - 3, 11)}" font-family="sans-serif" font-size="11" font-weight="bold" fill="${colour}" stroke="black" stroke-width="0.4">${label} #${targets.bbox_indices[i]}</text>`;
      }).join('\n')}</svg>`;
    const png = await sharp(Buffer.from(answer.image, 'base64')).composite([{ input: Buffer.from(overlay) }]).png({ palette: true, colours: 256, effort: 10 }).toBuffer();
    await writeFile(out, png);
    const given = scenes.reduce((n, s) => n + s.boxes.length, 0);
    console.log(`${out}: ${width}×${height}, center ${JSON.stringify(params.center)}, ${targets.bboxes.length} of ${given} boxes kept`);
    console.log(JSON.stringify(params.tiles));
  } finally {
    await app.close();
  }
}

await main();
