// The shard endpoint measured (docs/BENCHMARKS.md, "Shards"):
//   node --import tsx bench/shard.ts [--samples 1000] [--rss-mib 512,2048] [--no-python] [--out bench/work/shard.json]
// 1. images/s of POST /v1/augment/shard against the same per-sample function in-process (augmentSample,
//    sharp, same concurrency) on the same images; 2. against a PyTorch DataLoader (2 workers,
//    torchvision + PIL) running the same operations; 3. the service's peak RSS while a shard of each
//    --rss-mib size streams through it; 4. two shards at once on 1 replica and on 2.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import tar from 'tar-stream';
import { readAugmentConfig } from '../services/augment/config.ts';
import { intakeErrors } from '../services/augment/errors.ts';
import { augmentSample } from '../services/augment/shard/sample.ts';
import { parseSteps } from '../services/augment/steps.ts';
import { machineInfo } from './machine.ts';
import { startService, type RunningService } from './services.ts';

const OPS = [
  { op: 'flip', p: 0.5, direction: 'horizontal' },
  { op: 'rotate', angle_range: [-15, 15] },
  { op: 'crop', scale_range: [0.5, 1], ratio_range: [0.75, 1.3333], output_width: 224, output_height: 224 },
  { op: 'cutout', p: 0.5, size_ratio: 0.25 },
];
const SIDE = 256;
const BASES = 64;

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000' },
    'rss-mib': { type: 'string', default: '256,1024' },
    'no-python': { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/work/shard.json' },
  },
});
const SAMPLES = Number(values.samples);

/** Distinct photo-like JPEGs (gradients and shapes shifted per image), reused round-robin by key. */
async function baseImages(): Promise<Buffer[]> {
  const images: Buffer[] = [];
  for (let k = 0; k < BASES; k++) {
    const data = Buffer.alloc(SIDE * SIDE * 3);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const i = (y * SIDE + x) * 3;
        const inside = (x - 40 - k) ** 2 + (y - 100 + k) ** 2 < 900;
        data[i] = inside ? 230 : (x * 255) / SIDE;
        data[i + 1] = inside ? 30 : ((y + 3 * k) * 255) / SIDE % 256;
        data[i + 2] = (x * 7 + y * 13 + k * 31) % 256;
      }
    }
    images.push(await sharp(data, { raw: { width: SIDE, height: SIDE, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  }
  return images;
}

/** A shard streamed member by member: `count` samples, or until `bytes` are reached. */
function shardStream(images: Buffer[], count: number, prefix = 's'): Readable {
  const pack = tar.pack();
  void (async () => {
    for (let i = 0; i < count; i++) {
      const data = images[i % images.length]!;
      await new Promise<void>((resolve, reject) => pack.entry({ name: `${prefix}${String(i).padStart(8, '0')}.jpg`, size: data.length, mtime: new Date(0) }, data, (e) => (e ? reject(e) : resolve())));
    }
    pack.finalize();
  })();
  return Readable.from(pack);
}

/** POSTs a streamed shard; the answer is read and counted, never kept. */
function postShard(url: string, body: Readable): Promise<{ seconds: number; answerBytes: number; status: number }> {
  const started = performance.now();
  const query = new URLSearchParams({ ops: JSON.stringify(OPS), seed: '1', format: 'jpeg', quality: '90' });
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/augment/shard?${query}`, url), { method: 'POST', headers: { 'content-type': 'application/x-tar' } }, (res) => {
      let answerBytes = 0;
      res.on('data', (chunk: Buffer) => (answerBytes += chunk.length));
      res.on('end', () => resolve({ seconds: (performance.now() - started) / 1000, answerBytes, status: res.statusCode! }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

function rssOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
  return { rssMiB: Math.round(field('VmRSS')), peakMiB: Math.round(field('VmHWM')) };
}

const SERVICE_ENV = { LOG_LEVEL: 'warn', REQUEST_TIMEOUT_MS: '0', MAX_SHARD_MEMBERS: '10000000', MAX_SHARD_BYTES: String(2 ** 40) };

async function inProcess(images: Buffer[]): Promise<number> {
  const config = readAugmentConfig({});
  const recipe = {
    steps: parseSteps(OPS, intakeErrors),
    variants: 1,
    seed: 1,
    epoch: 0,
    format: 'jpeg' as const,
    quality: 90,
    limits: { fileBytes: config.maxFileBytes, files: 1, fieldBytes: config.maxFieldBytes, fields: config.maxFields, inputPixels: config.maxInputPixels },
    maxTargets: config.maxTargets,
    hooks: {},
  };
  sharp.cache(false);
  sharp.concurrency(1);
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: availableParallelism() }, async () => {
    while (next < SAMPLES) {
      const i = next++;
      await augmentSample({ kind: 'sample', key: `s${String(i).padStart(8, '0')}`, members: new Map([['jpg', images[i % images.length]!]]) }, recipe);
    }
  }));
  return SAMPLES / ((performance.now() - started) / 1000);
}

async function torchvision(images: Buffer[]): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'augserve-shard-bench-'));
  try {
    images.forEach((image, i) => writeFileSync(join(dir, `${i}.jpg`), image));
    const script = `
import os, sys, time, torch
from PIL import Image
from torch.utils.data import Dataset, DataLoader
from torchvision import transforms
torch.set_num_threads(1)
d, n = sys.argv[1], int(sys.argv[2])
files = sorted(os.listdir(d))
tf = transforms.Compose([transforms.RandomHorizontalFlip(0.5), transforms.RandomRotation(15),
  transforms.RandomResizedCrop(224, scale=(0.5, 1), ratio=(0.75, 1.3333)), transforms.PILToTensor(),
  transforms.RandomErasing(p=0.5, scale=(0.0625, 0.0625), ratio=(1, 1), value=0)])
class S(Dataset):
    def __len__(self): return n
    def __getitem__(self, i):
        with Image.open(os.path.join(d, files[i % len(files)])) as im:
            return tf(im.convert('RGB'))
best = 0
for r in range(2):
    t = time.perf_counter(); k = 0
    for b in DataLoader(S(), batch_size=32, num_workers=2): k += len(b)
    best = max(best, k / (time.perf_counter() - t))
print(best)
`;
    return await new Promise((resolve) => {
      const child = spawn('/usr/bin/python3', ['-c', script, dir, String(SAMPLES)]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (err += d));
      child.on('exit', (code) => resolve(code === 0 ? Number(out.trim().split('\n').at(-1)) : `unavailable: ${err.trim().split('\n').at(-1)}`));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const images = await baseImages();
  const meanBytes = images.reduce((s, b) => s + b.length, 0) / images.length;
  const result: Record<string, unknown> = { machine: machineInfo(), ops: OPS, image: `${SIDE}x${SIDE} JPEG q90, ${Math.round(meanBytes / 1024)} KiB mean`, samples: SAMPLES };

  const full = !values['rss-only'];
  if (full) {
    result.in_process_images_per_s = Math.round(await inProcess(images));
    console.log('in-process', result.in_process_images_per_s);
  }

  const services: RunningService[] = [];
  try {
    services.push(await startService({ name: 'augment', env: SERVICE_ENV }));
    const one = services[0]!;
    await postShard(one.url, shardStream(images, 50)); // warm-up
    const runs = [];
    for (let r = 0; r < (full ? 3 : 0); r++) runs.push(SAMPLES / (await postShard(one.url, shardStream(images, SAMPLES))).seconds);
    result.shard_images_per_s = runs.map(Math.round);
    console.log('shard', result.shard_images_per_s);

    if (full && !values['no-python']) {
      result.torchvision_dataloader_2_workers_images_per_s = await torchvision(images);
      console.log('torchvision', result.torchvision_dataloader_2_workers_images_per_s);
    }

    const rss = [];
    for (const mib of String(values['rss-mib']).split(',').map(Number)) {
      const count = Math.ceil((mib * 2 ** 20) / (meanBytes + 512));
      const pid = one.child.pid!;
      const before = rssOf(pid);
      let peak = before.rssMiB;
      const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid).rssMiB)), 200);
      const run = await postShard(one.url, shardStream(images, count));
      clearInterval(timer);
      rss.push({ shard_mib: mib, samples: count, status: run.status, seconds: Math.round(run.seconds), rss_before_mib: before.rssMiB, rss_peak_during_mib: peak, answer_mib: Math.round(run.answerBytes / 2 ** 20) });
      console.log('rss', rss.at(-1));
    }
    result.rss = rss;

    if (!full) return;
    services.push(await startService({ name: 'augment', env: SERVICE_ENV }));
    const pair = async (urls: string[]) => {
      const started = performance.now();
      await Promise.all([0, 1].map((i) => postShard(urls[i % urls.length]!, shardStream(images, SAMPLES, `r${i}-`))));
      return Math.round((2 * SAMPLES) / ((performance.now() - started) / 1000));
    };
    await postShard(services[1]!.url, shardStream(images, 50));
    result.two_shards_one_replica_images_per_s = await pair([one.url]);
    result.two_shards_two_replicas_images_per_s = await pair(services.map((s) => s.url));
    console.log('replicas', result.two_shards_one_replica_images_per_s, result.two_shards_two_replicas_images_per_s);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    mkdirSync(join(String(values.out), '..'), { recursive: true });
    writeFileSync(String(values.out), `${JSON.stringify(result, null, 2)}\n`);
  }
  mkdirSync(join(String(values.out), '..'), { recursive: true });
  writeFileSync(String(values.out), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

await main();
