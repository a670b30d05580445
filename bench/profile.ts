/**
 * Profiles one service under one load with `node --cpu-prof` and prints where its threads spend
 * their time (bench/profile-summary.ts), so the worst ratio of a run can be explained.
 *
 *   node --import tsx bench/profile.ts augment flip 32            # op, concurrency (512×512 PNG; PROFILE_INPUT=1: the 1024×768 JPEG;
 *                                                                 # PROFILE_BODY=raw: the image as the whole body, not multipart)
 *   node --import tsx bench/profile.ts inference vgg 32 [images]  # model, concurrency, images per request
 *
 * Profiles land in bench/work/prof/<service>-<case>/ (one file per thread: main, and for inference
 * the session worker). Models come from bench/work/model-repo as the last `npm run bench` left it.
 */
import { readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { augmentCases, SEED } from './augment-cases.ts';
import { cannonRun, multipartBody } from './http.ts';
import { AUGMENT_INPUTS, augmentInput, INFERENCE_INPUTS, inferenceInput } from './inputs.ts';
import { summarizeProfile } from './profile-summary.ts';
import { startService } from './services.ts';
import { summarize } from './stats.ts';

const [service = 'augment', subject = 'flip', concText = '32', imagesText = '1'] = process.argv.slice(2);
const concurrency = Number(concText);
const images = Number(imagesText);
const seconds = Number(process.env.PROFILE_SECONDS ?? 15);
const raw = process.env.PROFILE_BODY === 'raw';
const dir = resolve('bench/work/prof', `${service}-${subject}-c${concurrency}${images > 1 ? `-x${images}` : ''}${process.env.PROFILE_INPUT ? `-input${process.env.PROFILE_INPUT}` : ''}${raw ? '-raw' : ''}`);
rmSync(dir, { recursive: true, force: true });

let url: string;
let spec: { url: string; body: Buffer; headers: Record<string, string> };
const flags = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
let svc;
if (service === 'augment') {
  const { image, mix } = await augmentInput(AUGMENT_INPUTS[Number(process.env.PROFILE_INPUT ?? 0)]!, 'bench/work/inputs');
  const c = augmentCases(image.width, image.height).find((x) => x.op === subject);
  if (!c) throw new Error(`no operation ${subject}`);
  const type = image.format === 'png' ? 'image/png' : 'image/jpeg';
  const files = [{ field: 'image', filename: image.name, contentType: type, bytes: image.bytes }];
  if (c.op === 'cutmix') files.push({ field: 'mix_image', filename: mix.name, contentType: type, bytes: mix.bytes });
  svc = await startService({ name: 'augment', nodeFlags: flags });
  if (raw && c.op !== 'cutmix') {
    // The image as the whole body, the fields in the query string (bench/augment-suite.ts's raw rows).
    url = `${svc.url}/v1/augment/${c.op}?${new URLSearchParams({ seed: String(SEED), ...c.fields })}`;
    spec = { url, body: image.bytes, headers: { 'content-type': type } };
  } else {
    const { body, contentType } = multipartBody({ seed: String(SEED), ...c.fields }, files);
    url = `${svc.url}/v1/augment/${c.op}`;
    spec = { url, body, headers: { 'content-type': contentType } };
  }
} else {
  const config = JSON.parse(await readFile(join('bench/work/model-repo', subject, 'config.json'), 'utf8')) as { preprocess: { channels: number } };
  const image = await inferenceInput(config.preprocess.channels === 1 ? INFERENCE_INPUTS.gray28 : INFERENCE_INPUTS.photo, 'bench/work/inputs');
  const files = Array.from({ length: images }, (_, i) => ({ field: 'image', filename: `${i}.img`, contentType: image.format === 'png' ? 'image/png' : 'image/jpeg', bytes: image.bytes }));
  const { body, contentType } = multipartBody({ top_k: '1' }, files);
  svc = await startService({ name: 'inference', nodeFlags: flags, env: { MODEL_REPOSITORY: resolve('bench/work/model-repo'), EXECUTION_PROVIDERS: 'cpu', ...JSON.parse(process.env.SERVICE_ENV ?? '{}') }, readyTimeoutMs: 300_000 });
  url = `${svc.url}/v1/models/${subject}/classify`;
  spec = { url, body, headers: { 'content-type': contentType } };
}
// Counted, not timed: a timed run drops requests in flight, and stopping the inference service
// with batches running aborts it (SIGABRT, no profile written).
const warm = await cannonRun(spec, concurrency, { seconds: 0, amount: 4 * concurrency });
const amount = Math.max(2 * concurrency, Math.round((seconds * warm.latenciesMs.length) / warm.seconds));
const started = performance.now();
const run = await cannonRun(spec, concurrency, { seconds: 0, amount }, images, svc.child.pid);
const warmMs = performance.now() - started;
const exit = new Promise((r) => svc.child.once('exit', (code, signal) => r({ code, signal })));
const t0 = performance.now();
await svc.stop();
console.error(`service stopped in ${Math.round(performance.now() - t0)} ms: ${JSON.stringify(await exit)}\n${svc.output().slice(-1500)}`);
console.log(JSON.stringify({ service, subject, concurrency, images, ...summarize([run]) }));
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(await readFile(join(dir, file), 'utf8'));
  const total = (profile.endTime - profile.startTime) / 1000;
  // Only the loaded part: the last `seconds` before the profile ended (the stop takes a moment).
  const s = summarizeProfile(profile, 18, Math.max(0, total - warmMs - 500));
  console.log(`\n== ${file}: ${s.sampled_ms} ms sampled under load`);
  console.log('self:');
  for (const r of s.self) console.log(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
  console.log('total:');
  for (const r of s.total.slice(0, 14)) console.log(`${String(r.share).padStart(5)}%  ${String(r.ms).padStart(6)} ms  ${r.name}`);
}
