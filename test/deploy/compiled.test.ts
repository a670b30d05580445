/**
 * The production paths, as a user and the images run them: `npm run build` compiles the
 * services to dist/, `npm start` runs both compiled services, and the Docker entrypoint's
 * command runs one. The compiled services must answer like the sources do, start quietly
 * (onnxruntime's native errors off stderr), and end their start log with one summary line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { buildInferenceApp } from '../../services/inference/app.ts';
import { readInferenceConfig } from '../../services/inference/config.ts';
import { makeImage, pixels } from '../helpers/images.ts';
import { freePort } from '../helpers/ports.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The environment of a process started as a user would: the default log level (the test
 * runner silences logs) and without the runner's NODE_TEST_CONTEXT.
 */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, LOG_LEVEL: __, ...env } = process.env;
  return { ...env, ...extra };
}

/** Only turns a hang into a failure; far beyond any machine's time for a start. */
const HANG_GUARD_MS = 120_000;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A started process whose stdout is read as pino JSON lines and whose stderr is kept. */
class Started {
  readonly lines: LogLine[] = [];
  stderr = '';
  private waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /**
   * Every line read: the output pipe has closed, which happens once every process holding it has
   * exited (npm, the launcher and the services it started), not only the one spawned here.
   */
  readonly allRead: Promise<unknown>;

  constructor(readonly child: ChildProcess) {
    this.exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    const reader = createInterface({ input: child.stdout! });
    this.allRead = once(reader, 'close');
    reader.on('line', (text) => {
      if (!text.startsWith('{')) return; // npm's own "> augserve@0.1.0 start" banner
      const line = JSON.parse(text) as LogLine;
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => !(w.match(line) && (w.resolve(line), true)));
    });
  }

  /** The first log line that matches, now or when it is written. */
  waitFor(match: (line: LogLine) => boolean, what: string): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`no log line for ${what} after ${HANG_GUARD_MS} ms; stderr: ${this.stderr}`)), HANG_GUARD_MS);
      guard.unref();
      this.exited.then(([code]) => reject(new Error(`exited with ${code} before ${what}; stderr: ${this.stderr}`)), () => undefined);
      this.waiters.push({ match, resolve: (line) => (clearTimeout(guard), resolve(line)) });
    });
  }
}

const startLine = (service: string) => (line: LogLine) => line.msg.startsWith(`${service} started at `);

async function flipMatches(url: string): Promise<void> {
  const photo = await makeImage(37, 23, 'png');
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(photo)]), 'photo.png');
  form.append('direction', 'horizontal');
  const response = await fetch(`${url}/v1/augment/flip`, { method: 'POST', body: form, headers: { accept: 'image/png' } });
  assert.equal(response.status, 200, await response.clone().text());
  const [input, output] = [await pixels(photo), await pixels(Buffer.from(await response.arrayBuffer()))];
  const { width, height, channels } = input;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (y * width + x) * channels;
      const b = (y * width + (width - 1 - x)) * channels;
      assert.ok(input.data.subarray(a, a + channels).equals(output.data.subarray(b, b + channels)), `pixel (${x},${y}) is not mirrored`);
    }
  }
}

function classifyForm(photo: Buffer): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(photo)]), 'photo.png');
  form.append('top_k', '10');
  return form;
}

test('npm run build compiles every service module to dist/, with the files they read beside them', () => {
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', env: userEnv({}) });
  assert.equal(built.status, 0, built.stdout + built.stderr);
  for (const file of ['services/augment/server.js', 'services/inference/server.js', 'services/inference/session-worker.js', 'services/inference/public/index.html', 'openapi.yaml']) {
    assert.ok(existsSync(path.join(root, 'dist', file)), `dist/${file} is missing`);
  }
  const modules = readdirSync(path.join(root, 'dist/services'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  const sources = readdirSync(path.join(root, 'services'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.deepEqual(modules.sort(), sources.map((f) => f.replace(/\.ts$/, '.js')).sort());
  for (const module of modules) {
    const text = readFileSync(path.join(root, 'dist/services', module), 'utf8');
    assert.doesNotMatch(text, /from ['"][^'"]+\.ts['"]|import\(['"][^'"]+\.ts['"]\)/, `${module} still imports a .ts file`);
    // tsx is a devDependency: the build may name it only where a `.ts` entry is started (tests).
    assert.doesNotMatch(text, /^import [^;]*['"]tsx(\/[^'"]*)?['"]/m, `${module} imports tsx`);
  }
});

describe('npm start: both compiled services', () => {
  let started: Started;
  let augmentUrl: string;
  let inferenceUrl: string;

  before(async () => {
    const [augmentPort, inferencePort] = [await freePort(), await freePort()];
    const child = spawn('npm', ['start'], {
      cwd: root,
      detached: true, // its own process group: npm, the launcher and both services stop together
      env: userEnv({ HOST: '127.0.0.1', AUGMENT_PORT: String(augmentPort), INFERENCE_PORT: String(inferencePort), NODE_ENV: 'production' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started = new Started(child);
    augmentUrl = `http://127.0.0.1:${augmentPort}`;
    inferenceUrl = `http://127.0.0.1:${inferencePort}`;
    await Promise.all([started.waitFor(startLine('augment'), 'augment started'), started.waitFor(startLine('inference'), 'inference started')]);
  });

  after(async () => {
    if (started.child.exitCode === null) process.kill(-started.child.pid!, 'SIGTERM');
    await started.exited;
  });

  test('each service ends its start log with one line: address, models and providers, effective settings', async () => {
    const augment = await started.waitFor(startLine('augment'), 'augment started');
    assert.equal(augment.address, augmentUrl);
    assert.equal((augment.settings as Record<string, unknown>).AUGMENT_PORT, Number(new URL(augmentUrl).port));
    assert.equal((augment.settings as Record<string, unknown>).API_KEYS, '0 key(s)');

    const inference = await started.waitFor(startLine('inference'), 'inference started');
    assert.equal(inference.address, inferenceUrl);
    const models = inference.models as Record<string, string>;
    const committed = readdirSync(path.join(root, 'models')).filter((name) => existsSync(path.join(root, 'models', name, 'config.json')));
    assert.deepEqual(Object.keys(models).sort(), committed.sort());
    for (const [name, provider] of Object.entries(models)) assert.match(provider, /^(cpu|cuda)$/, `${name} runs on ${provider}`);
    assert.deepEqual((inference.settings as Record<string, unknown>).EXECUTION_PROVIDERS, ['cuda', 'cpu']);
    // It is the last line of the inference start log: every model line came before it.
    const index = started.lines.indexOf(inference);
    assert.ok(started.lines.slice(index + 1).every((line) => line.msg !== 'model ready'));
  });

  test('the start is quiet: no native onnxruntime lines, and a failed provider is told once', () => {
    assert.doesNotMatch(started.stderr, /onnxruntime|provider_bridge|libonnxruntime_providers/);
    const providerWarnings = started.lines.filter((line) => line.level === 40 && /^execution provider /.test(line.msg));
    const providers = providerWarnings.map((line) => line.provider);
    assert.deepEqual(providers, [...new Set(providers)], 'one warning per failed provider, not one per model');
    for (const warning of providerWarnings) assert.equal(typeof warning.hint, 'string');
    const cpuModels = Object.values((started.lines.find(startLine('inference'))!.models as Record<string, string>)).filter((p) => p === 'cpu');
    if (cpuModels.length > 0) assert.deepEqual(providers, ['cuda'], 'models fell back to cpu: the cuda failure is told');
  });

  test('augment (compiled) mirrors the pixels of a flip', async () => {
    await flipMatches(augmentUrl);
  });

  test('inference (compiled) gives the probabilities the sources give', async () => {
    const photo = await makeImage(48, 48, 'png');
    const response = await fetch(`${inferenceUrl}/v1/models/resnet/classify`, { method: 'POST', body: classifyForm(photo) });
    assert.equal(response.status, 200, await response.clone().text());
    const compiled = (await response.json()) as { results: Array<{ predictions: Array<{ label: string; probability: number }> }> };

    const app = await buildInferenceApp(readInferenceConfig({ EXECUTION_PROVIDERS: 'cpu', LOG_LEVEL: 'silent' }));
    try {
      const form = classifyForm(photo);
      const request = new Request('http://x/', { method: 'POST', body: form });
      const answer = await app.inject({
        method: 'POST',
        url: '/v1/models/resnet/classify',
        headers: { 'content-type': request.headers.get('content-type')! },
        payload: Buffer.from(await request.arrayBuffer()),
      });
      assert.equal(answer.statusCode, 200, answer.body);
      const sources = answer.json() as typeof compiled;
      const [a, b] = [compiled.results[0]!.predictions, sources.results[0]!.predictions];
      assert.equal(a.length, 10);
      assert.deepEqual(a.map((p) => p.label), b.map((p) => p.label));
      a.forEach((p, i) => assert.ok(Math.abs(p.probability - b[i]!.probability) < 1e-5, `${p.label}: ${p.probability} vs ${b[i]!.probability}`));
    } finally {
      await app.close();
    }
  });

  test('SIGTERM stops the launcher and both services gracefully', { timeout: 120_000 }, async () => {
    process.kill(-started.child.pid!, 'SIGTERM');
    // npm may exit before the services have written their last lines: wait for all of them.
    await started.allRead;
    assert.equal(started.lines.filter((line) => line.msg === 'closing: finishing in-flight requests').length, 2);
    assert.deepEqual(started.lines.filter((line) => line.level >= 50), []);
  });
});

test("the Docker entrypoint's command runs the compiled augment service in its own process", async () => {
  const port = await freePort();
  const child = spawn('sh', ['deploy/docker-entrypoint.sh', 'augment'], {
    cwd: root,
    env: userEnv({ AUGSERVE_HOME: root, HOST: '127.0.0.1', AUGMENT_PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = new Started(child);
  try {
    await started.waitFor(startLine('augment'), 'augment started');
    // exec: the shell is replaced by node running the compiled entry, so tini's signals reach it.
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.equal(path.basename(argv[0]!), 'node');
    assert.deepEqual(argv.slice(1), ['dist/services/augment/server.js']);
    await flipMatches(`http://127.0.0.1:${port}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  const [code] = await started.exited;
  assert.equal(code, 0, started.stderr);
  assert.equal(started.stderr, '');
});
