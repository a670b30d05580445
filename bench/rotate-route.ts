/**
 * CPU ms per request of POST /v1/augment/rotate on the bench's 1024×768 JPEG (in process, through
 * `app.inject`, one request at a time): what a rotate costs the service, decode to encode.
 *
 *   node --import tsx bench/rotate-route.ts [requests=40] [angle=15] [expand=false]
 *
 * Prints the mean and median CPU ms (every thread of this process, libvips' included) and wall ms
 * per request, after 5 warm-up requests.
 */
import { performance } from 'node:perf_hooks';
import { buildAugmentApp } from '../services/augment/app.ts';
import { readAugmentConfig } from '../services/augment/config.ts';
import { AUGMENT_INPUTS, augmentInput } from './inputs.ts';
import { median, round } from './stats.ts';

const requests = Number(process.argv[2] ?? 40);
const angle = process.argv[3] ?? '15';
const expand = process.argv[4] ?? 'false';
const { image } = await augmentInput(AUGMENT_INPUTS[1]!, 'bench/work/inputs');
const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));

async function once(): Promise<{ cpu: number; wall: number }> {
  const body = new FormData();
  body.append('image', new Blob([new Uint8Array(image.bytes)]), 'photo.jpg');
  body.append('angle', angle);
  body.append('expand', expand);
  body.append('fill', '#808080');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await app.inject({ method: 'POST', url: '/v1/augment/rotate', body });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return { cpu: (cpu.user + cpu.system) / 1000, wall };
}

for (let i = 0; i < 5; i++) await once();
const runs = [];
for (let i = 0; i < requests; i++) runs.push(await once());
await app.close();
const cpu = runs.map((r) => r.cpu);
const wall = runs.map((r) => r.wall);
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
console.log(
  JSON.stringify({ image: `${image.width}x${image.height} jpeg`, angle, expand, requests, cpuMsMean: round(mean(cpu), 2), cpuMsMedian: round(median(cpu), 2), wallMsMedian: round(median(wall), 2) }),
);
