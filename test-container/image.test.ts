/**
 * The cpu image as users run it: built by `npm run build:image` (a cached rebuild when nothing
 * changed), both services started from it with a read-only root filesystem, and checked from
 * outside over published loopback ports. `npm run test:container`; skips with one line when no
 * docker engine answers. Prints the image size, each service's start-up time (`docker run` to the
 * first 200 from /health/ready) and its memory in the container.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { findDataDir, loadTestSet } from '../models/evaluation/fashion-mnist.ts';

const root = resolve(import.meta.dirname, '..');
const IMAGE = process.env.AUGSERVE_IMAGE ?? 'augserve:cpu';
const API_KEY = 'container-test-key';
const READY_WITHIN_MS = 60_000;
const SEED = 20261206;
const FASHION_IMAGES = 256;
const FASHION_MIN_TOP1 = 0.9;

function docker(args: string[], options: { timeout?: number } = {}) {
  const result = spawnSync('docker', args, { encoding: 'utf8', timeout: options.timeout ?? 120_000, maxBuffer: 1 << 26 });
  return { ok: result.status === 0, stdout: (result.stdout ?? '').trim(), stderr: (result.stderr ?? '').trim(), status: result.status };
}

const engine = docker(['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000 });
const skip = engine.ok ? false : `no container engine answers (docker info: ${(engine.stderr || 'docker not found').split('\n')[0]}); start dockerd to run it`;
if (skip) console.log(`test:container: skipped: ${skip}`);

const report: string[] = [];
const note = (line: string) => {
  report.push(line);
  console.log(line);
};

interface Service { name: 'augment' | 'inference'; container: string; url: string; startMs: number }
const services = new Map<string, Service>();
const containers: string[] = [];

/** `docker run` one service (read-only root, tmpfs /tmp, no capabilities), wait for ready. */
async function start(name: Service['name'], env: Record<string, string> = {}): Promise<Service> {
  const port = name === 'augment' ? 3001 : 3002;
  const container = `augserve-test-${process.pid}-${name}`;
  const started = performance.now();
  const run = docker([
    'run', '-d', '--name', container, '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '-p', `127.0.0.1::${port}`, '-e', `API_KEYS=${API_KEY}`, '-e', 'LOG_LEVEL=info',
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]), IMAGE, name,
  ]);
  assert.ok(run.ok, `docker run ${name}: ${run.stderr}`);
  containers.push(container);
  const published = docker(['port', container, `${port}/tcp`]).stdout.split('\n')[0]!;
  const url = `http://127.0.0.1:${published.split(':').at(-1)}`;
  let startMs: number | undefined;
  while (startMs === undefined) {
    const elapsed = performance.now() - started;
    if (elapsed > READY_WITHIN_MS) {
      assert.fail(`${name} not ready within ${READY_WITHIN_MS / 1000} s; its log:\n${docker(['logs', '--tail', '40', container]).stderr}`);
    }
    const state = docker(['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}}', container]).stdout;
    if (state.startsWith('false')) assert.fail(`${name} exited (${state}); its log:\n${docker(['logs', '--tail', '40', container]).stderr}`);
    if (await answers200(`${url}/health/ready`)) startMs = performance.now() - started;
    else await sleep(50);
  }
  const service = { name, container, url, startMs };
  services.set(name, service);
  return service;
}

/** Seeded RGB test picture (mulberry32), its PNG, and its raw pixels. */
async function picture(width: number, height: number) {
  let state = SEED;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(next() * 256);
  const png = await sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
  return { raw, png, width, height };
}

/** The horizontal mirror of raw RGB pixels, computed here (not by sharp). */
function mirrored(raw: Buffer, width: number, height: number): Buffer {
  const out = Buffer.alloc(raw.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.copy(out, (y * width + (width - 1 - x)) * 3, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return out;
}

async function decoded(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * GET url: true on a 200. Through node:http on a fresh connection, with a referenced timer:
 * Node 20's fetch, asked while docker-proxy accepts but the container does not listen yet, can
 * leave its promise unsettled with nothing keeping the event loop alive.
 */
function answers200(url: string): Promise<boolean> {
  return Promise.race([
    new Promise<boolean>((done) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.resume();
        done(res.statusCode === 200);
      });
      req.on('error', () => done(false));
    }),
    sleep(2000).then(() => false),
  ]);
}

function memory(container: string): string {
  return docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', container]).stdout.split(' / ')[0] ?? '?';
}

describe('the cpu container image', { skip }, () => {
  before(async () => {
    console.log(`engine: docker ${engine.stdout}; seed ${SEED}`);
    if (!process.env.AUGSERVE_IMAGE) {
      const started = performance.now();
      const built = spawnSync(process.execPath, [join(root, 'scripts/build-image.mjs'), '--quiet'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
      assert.equal(built.status, 0, 'npm run build:image failed');
      note(`build:image (cached layers where nothing changed): ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const size = Number(docker(['image', 'inspect', '--format', '{{.Size}}', IMAGE]).stdout);
    note(`image ${IMAGE}: ${(size / 1e6).toFixed(0)} MB`);
    await start('augment');
    await start('inference', { INFERENCE_GRPC_PORT: '0' });
    for (const s of services.values()) note(`${s.name}: ready ${(s.startMs / 1000).toFixed(2)} s after docker run, ${memory(s.container)} in the container (docker stats)`);
  });

  after(() => {
    for (const container of containers) docker(['rm', '-f', container]);
    if (report.length) console.log(`\ncontainer report\n${report.map((l) => `  ${l}`).join('\n')}`);
  });

  test('both services became ready within 60 s', () => {
    for (const name of ['augment', 'inference']) assert.ok(services.get(name)!.startMs < READY_WITHIN_MS, name);
  });

  test('the services run as uid 10001, not root', () => {
    for (const { container } of services.values()) {
      // docker top's first column is the UID (numeric: the host has no user 10001), the last the command.
      const rows = docker(['top', container]).stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/));
      assert.ok(rows.some((r) => r.includes('/usr/bin/tini')) && rows.some((r) => r[7] === 'node'), `docker top: ${JSON.stringify(rows)}`);
      for (const row of rows) assert.equal(row[0], '10001', `${container}: ${row.slice(7).join(' ')} runs as uid ${row[0]}`);
    }
  });

  test('the root filesystem is read-only, /tmp (tmpfs) writable', () => {
    for (const { container } of services.values()) {
      assert.equal(docker(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', container]).stdout, 'true');
      const write = docker(['exec', container, 'sh', '-c', 'touch /app/probe 2>&1; echo "app=$?"; touch /tmp/probe && echo tmp=0']);
      assert.match(write.stdout, /Read-only file system/);
      assert.match(write.stdout, /app=1/);
      assert.match(write.stdout, /tmp=0/);
    }
  });

  test('API_KEYS: without a key 401, with X-API-Key or a Bearer token 200', async () => {
    const { png } = await picture(8, 6);
    const { url } = services.get('augment')!;
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/v1/augment/flip?format=png`, { method: 'POST', headers: { 'content-type': 'image/png', ...headers }, body: new Uint8Array(png) });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ 'x-api-key': 'wrong' })).status, 401);
    assert.equal((await post({ 'x-api-key': API_KEY })).status, 200);
    assert.equal((await post({ authorization: `Bearer ${API_KEY}` })).status, 200);
    const inference = services.get('inference')!.url;
    assert.equal((await fetch(`${inference}/v1/models`)).status, 401);
    assert.equal((await fetch(`${inference}/v1/models`, { headers: { 'x-api-key': API_KEY } })).status, 200);
    assert.equal((await fetch(`${inference}/health/ready`)).status, 200, 'health needs no key');
  });

  test('a horizontal flip (multipart) mirrors every pixel column', async () => {
    const { raw, png, width, height } = await picture(41, 29);
    const body = new FormData();
    body.append('image', new Blob([new Uint8Array(png)]), 'image.png');
    body.append('direction', 'horizontal');
    body.append('format', 'png');
    const response = await fetch(`${services.get('augment')!.url}/v1/augment/flip`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('content-type'), 'image/png');
    const out = await decoded(Buffer.from(await response.arrayBuffer()));
    assert.deepEqual([out.width, out.height, out.channels], [width, height, 3]);
    assert.ok(out.data.equals(mirrored(raw, width, height)), 'flipped pixels differ from the mirror computed here');
  });

  test(`Fashion-MNIST: the first ${FASHION_IMAGES} test images classified by every model`, { skip: findDataDir() ? false : 'Fashion-MNIST not installed (Debian package dataset-fashion-mnist)' }, async () => {
    const set = loadTestSet();
    const side = Math.round(Math.sqrt(set.size));
    const pngs: Buffer[] = [];
    for (let i = 0; i < FASHION_IMAGES; i++) {
      const raw = Buffer.from(set.images.subarray(i * set.size, (i + 1) * set.size));
      pngs.push(await sharp(raw, { raw: { width: side, height: side, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    }
    const { url } = services.get('inference')!;
    const listing = (await (await fetch(`${url}/v1/models`, { headers: { 'x-api-key': API_KEY } })).json()) as { models: Array<{ name: string; ready: boolean }> };
    const ready = listing.models.filter((m) => m.ready).map((m) => m.name);
    assert.ok(ready.length >= 1, `no model ready: ${JSON.stringify(listing)}`);
    for (const model of ready) {
      let correct = 0;
      for (let start = 0; start < FASHION_IMAGES; start += 64) {
        const body = new FormData();
        for (const png of pngs.slice(start, start + 64)) body.append('image', new Blob([new Uint8Array(png)]), 'image.png');
        body.append('top_k', '1');
        const response = await fetch(`${url}/v1/models/${model}/classify`, { method: 'POST', headers: { 'x-api-key': API_KEY }, body });
        assert.equal(response.status, 200, await response.clone().text());
        const json = (await response.json()) as { results: Array<{ predictions: Array<{ index: number }> }> };
        assert.equal(json.results.length, Math.min(64, FASHION_IMAGES - start));
        json.results.forEach((r, offset) => {
          if (r.predictions[0]!.index === set.labels[start + offset]) correct++;
        });
      }
      const top1 = correct / FASHION_IMAGES;
      note(`${model}: top-1 ${top1.toFixed(4)} on the first ${FASHION_IMAGES} Fashion-MNIST test images`);
      assert.ok(top1 >= FASHION_MIN_TOP1, `${model}: top-1 ${top1} < ${FASHION_MIN_TOP1}`);
    }
    const inference = services.get('inference')!;
    note(`inference after classifying: ${memory(inference.container)} in the container`);
  });

  test('the build CA bundle is in no layer of the image', () => {
    const dir = mkdtempSync(join(tmpdir(), 'augserve-image-'));
    try {
      const saved = spawnSync('sh', ['-c', `docker save '${IMAGE}' | tar -x -C '${dir}'`], { encoding: 'utf8' });
      assert.equal(saved.status, 0, saved.stderr);
      const layers = readdirSync(dir, { recursive: true }).map(String).filter((p) => p.endsWith('layer.tar'));
      assert.ok(layers.length > 3, `layers: ${layers.join(', ')}`);
      for (const layer of layers) {
        const listing = spawnSync('tar', ['-tf', join(dir, layer)], { encoding: 'utf8', maxBuffer: 1 << 28 });
        assert.equal(listing.status, 0, listing.stderr);
        assert.doesNotMatch(listing.stdout, /build-ca\/ca\.pem/, `${layer} holds the build's CA bundle`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('docker stop: an upload in flight is answered, then the container exits 0', async () => {
    const { url, container } = services.get('augment')!;
    const { raw, png, width, height } = await picture(64, 48);
    const half = Math.floor(png.length / 2);
    const target = new URL(`${url}/v1/augment/flip?direction=horizontal&format=png`);
    // Expect: 100-continue: the "continue" proves the server has the request before the stop.
    const response = new Promise<{ status: number; body: Buffer }>((resolvePromise, reject) => {
      const req = http.request(target, {
        method: 'POST',
        headers: { 'content-type': 'image/png', 'content-length': png.length, expect: '100-continue', 'x-api-key': API_KEY },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      req.on('continue', async () => {
        req.write(png.subarray(0, half));
        stopped = new Promise((done) => {
          const child = spawn('docker', ['stop', '--time', '30', container], { stdio: 'ignore' });
          child.on('exit', (code) => done(code));
        });
        // The stop has reached node once it stops answering new connections (readiness 503 or refused).
        while (await answers200(`${url}/health/ready`)) await sleep(20);
        req.end(png.subarray(half));
      });
    });
    let stopped: Promise<number | null> | undefined;
    const answer = await response;
    assert.equal(answer.status, 200, answer.body.toString());
    const out = await decoded(answer.body);
    assert.ok(out.data.equals(mirrored(raw, width, height)), 'the in-flight flip came back wrong');
    assert.equal(await stopped, 0, 'docker stop failed');
    const state = docker(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', container]).stdout;
    assert.equal(state, '0 false', `exit code, OOM-killed: ${state}`);
    assert.match(docker(['logs', container]).stderr + docker(['logs', container]).stdout, /closing: finishing in-flight requests/);
    const inference = services.get('inference')!;
    const stopStarted = performance.now();
    assert.ok(docker(['stop', '--time', '30', inference.container]).ok);
    note(`inference: docker stop took ${((performance.now() - stopStarted) / 1000).toFixed(2)} s`);
    assert.equal(docker(['inspect', '--format', '{{.State.ExitCode}}', inference.container]).stdout, '0');
  });
});
