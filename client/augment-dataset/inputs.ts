import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';

/** Image file extensions the shard endpoint reads. */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.avif', '.tif', '.tiff']);

/** One member of a sample to send: its bytes come from a file, or are given (`.cls`, `.json`). */
export interface PlannedMember {
  ext: string;
  path?: string;
  data?: Buffer;
}

export interface PlannedSample {
  key: string;
  members: PlannedMember[];
}

/** One output shard: the samples to send, or an input tar sent as it is. */
export type PlannedShard = { index: number; samples: PlannedSample[] } | { index: number; tar: string };

export interface DatasetPlan {
  kind: 'imagefolder' | 'shards' | 'coco';
  input: string;
  classes: string[];
  shards: PlannedShard[];
}

const byCodepoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A key is the name up to its first dot: dots inside a file's stem are replaced, and clashes refused. */
function keyOf(parts: string[]): string {
  return parts.map((part) => part.replace(/[^A-Za-z0-9_\-]/g, '_')).join('/');
}

function chunk(samples: PlannedSample[], size: number): PlannedShard[] {
  const shards: PlannedShard[] = [];
  for (let i = 0; i < samples.length; i += size) shards.push({ index: shards.length, samples: samples.slice(i, i + size) });
  return shards;
}

function uniqueKeys(samples: PlannedSample[]): void {
  const seen = new Map<string, PlannedSample>();
  for (const sample of samples) {
    const other = seen.get(sample.key);
    if (other) throw new Error(`two inputs map to the key ${sample.key}: ${other.members[0]!.path} and ${sample.members[0]!.path}`);
    seen.set(sample.key, sample);
  }
}

/** ImageFolder: `class_name/xxx.jpg`; class indices in sorted class order. */
function imageFolder(input: string, shardSize: number): DatasetPlan {
  const classes = readdirSync(input).filter((name) => statSync(join(input, name)).isDirectory()).sort(byCodepoint);
  const samples: PlannedSample[] = [];
  classes.forEach((name, cls) => {
    const files = readdirSync(join(input, name)).filter((file) => IMAGE_EXTENSIONS.has(extname(file).toLowerCase())).sort(byCodepoint);
    for (const file of files) {
      samples.push({
        key: keyOf([name, basename(file, extname(file))]),
        members: [{ ext: extname(file).slice(1).toLowerCase(), path: join(input, name, file) }, { ext: 'cls', data: Buffer.from(String(cls)) }],
      });
    }
  });
  uniqueKeys(samples);
  return { kind: 'imagefolder', input, classes, shards: chunk(samples, shardSize) };
}

/** A COCO `instances.json`: images from `images` (default: beside the file), boxes in each `.json`. */
function coco(input: string, shardSize: number, images?: string): DatasetPlan {
  const data = JSON.parse(readFileSync(input, 'utf8')) as {
    images: Array<{ id: number; file_name: string }>;
    annotations?: Array<{ image_id: number; bbox: number[]; category_id: number }>;
    categories?: Array<{ id: number; name: string }>;
  };
  const folder = images ?? dirname(input);
  const boxes = new Map<number, Array<{ bbox: number[]; category_id: number }>>();
  for (const annotation of data.annotations ?? []) {
    // COCO allows zero-width boxes; the service refuses degenerate ones, so they stay out.
    if (!(annotation.bbox[2]! > 0 && annotation.bbox[3]! > 0)) continue;
    const list = boxes.get(annotation.image_id) ?? [];
    list.push(annotation);
    boxes.set(annotation.image_id, list);
  }
  const samples = [...data.images]
    .sort((a, b) => a.id - b.id)
    .map((image) => {
      const found = boxes.get(image.id) ?? [];
      const json = { image_id: image.id, bbox_format: 'coco', bboxes: found.map((a) => a.bbox), bbox_labels: found.map((a) => a.category_id) };
      return {
        key: String(image.id).padStart(12, '0'),
        members: [{ ext: extname(image.file_name).slice(1).toLowerCase(), path: resolve(folder, image.file_name) }, { ext: 'json', data: Buffer.from(JSON.stringify(json)) }],
      };
    });
  uniqueKeys(samples);
  const classes = [...(data.categories ?? [])].sort((a, b) => a.id - b.id).map((c) => `${c.id}:${c.name}`);
  return { kind: 'coco', input, classes, shards: chunk(samples, shardSize) };
}

/** A folder of WebDataset `.tar` shards: each is sent whole and gives one output shard. */
function tarShards(input: string): DatasetPlan {
  const tars = readdirSync(input).filter((name) => name.endsWith('.tar')).sort(byCodepoint);
  return { kind: 'shards', input, classes: [], shards: tars.map((name, index) => ({ index, tar: join(input, name) })) };
}

/**
 * What the job will send, shard by shard, in a fixed order made only from the input's names
 * (so every run, and every pod of an Indexed Job, makes the same plan).
 */
export function planDataset(input: string, shardSize: number, images?: string): DatasetPlan {
  const stat = statSync(input);
  if (stat.isFile() && input.endsWith('.json')) return coco(input, shardSize, images);
  if (!stat.isDirectory()) throw new Error(`expected a folder (ImageFolder or .tar shards) or a COCO instances.json, got ${input}`);
  const entries = readdirSync(input);
  if (entries.some((name) => name.endsWith('.tar'))) return tarShards(input);
  return imageFolder(input, shardSize);
}
