/**
 * The client as a user installs it: `npm pack` of client/ (its prepack compiles it), the tarball
 * installed into a scratch project with no network (its one dependency, openapi-fetch, packed
 * from this checkout's node_modules), imported from a plain .mjs file that calls a running
 * augment service, loaded by Chromium from the installed files, and type-checked from a
 * TypeScript file without Node's types.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { makeImage, pixels } from '../helpers/images.ts';
import { CHROMIUM, startAugment, type Running } from './servers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** The environment of npm and node as a user runs them: without the test runner's context and log level. */
function userEnv(): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, LOG_LEVEL: __, ...env } = process.env;
  return env;
}

/** Runs a command to its end (blocking: only for commands that need no answer from this process). */
function run(command: string, args: string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** A package and every dependency it needs, found in this checkout's node_modules. */
function withDependencies(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  const manifest = JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const dependency of Object.keys(manifest.dependencies ?? {})) withDependencies(dependency, seen);
  return seen;
}

const USE = `import { readFileSync, writeFileSync } from 'node:fs';
import { AugserveError, createAugserveClient } from '@augserve/client';

const [baseUrl, input, output] = process.argv.slice(2);
const client = createAugserveClient({ baseUrl });
const photo = readFileSync(input);
const { bytes, contentType, applied } = await client.augment('flip', photo, { direction: 'horizontal', format: 'png', seed: 3 });
writeFileSync(output, bytes);
let error;
try {
  await client.augment('crop', photo, { width: 5000, height: 5000 });
} catch (e) {
  error = { isAugserveError: e instanceof AugserveError, status: e.status, code: e.code };
}
const ready = await client.ready();
console.log(JSON.stringify({ contentType, applied, error, ready: ready.status }));
`;

/** A page that loads the installed package's module as a browser does, openapi-fetch through an import map. */
const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "openapi-fetch": "/openapi-fetch.mjs" } }</script>
<script type="module">
  import { createAugserveClient } from '/client/index.js';
  window.flip = async (baseUrl, bytes) => {
    const client = createAugserveClient({ baseUrl });
    const { bytes: out, contentType, applied } = await client.augment('flip', new Uint8Array(bytes), { direction: 'horizontal', format: 'png', seed: 3 });
    return { contentType, applied, bytes: Array.from(out) };
  };
</script>`;

function assertMirrored(before: Awaited<ReturnType<typeof pixels>>, after: Awaited<ReturnType<typeof pixels>>): void {
  const { width, height, channels } = before;
  assert.deepEqual([after.width, after.height], [width, height]);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = (y * width + x) * channels;
      const b = (y * width + (width - 1 - x)) * channels;
      assert.ok(before.data.subarray(a, a + channels).equals(after.data.subarray(b, b + channels)), `pixel (${x},${y}) is not mirrored`);
    }
  }
}

const TYPED = `import { createAugserveClient, type AugmentResult } from '@augserve/client';

const client = createAugserveClient({ baseUrl: 'http://127.0.0.1:3001' });
export async function flip(image: Uint8Array): Promise<AugmentResult> {
  // @ts-expect-error: the contract has no 'sideways' direction (an untyped package would accept it)
  await client.augment('flip', image, { direction: 'sideways' });
  return client.augmentJson('flip', image, { direction: 'horizontal' });
}
`;

describe('@augserve/client: packed, installed offline, imported from plain JavaScript', () => {
  let server: Running;
  let dir: string;
  let app: string;
  let tarball: string;

  before(async () => {
    server = await startAugment({}, { cors: true });
    dir = mkdtempSync(path.join(tmpdir(), 'augserve-client-'));
    const packs = path.join(dir, 'packs');
    app = path.join(dir, 'app');
    mkdirSync(packs);
    mkdirSync(app);
    const packed = run('npm', ['pack', '--silent', '--pack-destination', packs], path.join(root, 'client')).trim().split('\n').at(-1)!;
    tarball = path.join(packs, packed);
    const dependencies = [...withDependencies('openapi-fetch')].map((name) => path.join(root, 'node_modules', name));
    run('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packs, ...dependencies], root);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    const tarballs = run('ls', [packs], packs).trim().split('\n').map((file) => path.join(packs, file));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...tarballs], app);
  });

  after(async () => {
    await server.app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the tarball holds the compiled module, its declarations and the contract types, and depends on openapi-fetch only', () => {
    const files = run('tar', ['-tzf', tarball], dir).trim().split('\n').sort();
    assert.deepEqual(files, [
      'package/dist/client/index.d.ts',
      'package/dist/client/index.js',
      'package/dist/services/shared/api-types.d.ts',
      'package/package.json',
    ]);
    const manifest = JSON.parse(readFileSync(path.join(app, 'node_modules/@augserve/client/package.json'), 'utf8')) as { dependencies: Record<string, string>; type: string };
    assert.deepEqual(Object.keys(manifest.dependencies), ['openapi-fetch']);
    assert.equal(manifest.type, 'module');
  });

  test('a plain .mjs file imports it and augments through a running service', async () => {
    const photo = await makeImage(29, 17, 'png');
    const [input, output] = [path.join(app, 'in.png'), path.join(app, 'out.png')];
    writeFileSync(input, photo);
    writeFileSync(path.join(app, 'use.mjs'), USE);
    // Asynchronously: the service it calls runs in this process.
    const { stdout } = await promisify(execFile)(process.execPath, ['use.mjs', server.url, input, output], { cwd: app, env: userEnv(), encoding: 'utf8' });
    const answer = JSON.parse(stdout) as {
      contentType: string;
      applied: unknown;
      error: { isAugserveError: boolean; status: number; code: string };
      ready: string;
    };
    assert.equal(answer.contentType, 'image/png');
    assert.deepEqual(answer.applied, { op: 'flip', seed: 3, params: { direction: 'horizontal' } });
    assert.deepEqual(answer.error, { isAugserveError: true, status: 422, code: 'AUG_IMPOSSIBLE_PARAM' });
    assert.equal(answer.ready, 'ok');

    assertMirrored(await pixels(photo), await pixels(readFileSync(output)));
  });

  test('the same module runs in a browser (Chromium), calling the service across origins', { skip: existsSync(CHROMIUM) ? false : `Chromium is not installed at ${CHROMIUM}` }, async () => {
    const { chromium } = await import('playwright-core');
    const installed = path.join(app, 'node_modules');
    const files: Record<string, [string, string]> = {
      '/': [PAGE, 'text/html'],
      '/client/index.js': [readFileSync(path.join(installed, '@augserve/client/dist/client/index.js'), 'utf8'), 'text/javascript'],
      '/openapi-fetch.mjs': [readFileSync(path.join(installed, 'openapi-fetch/dist/index.mjs'), 'utf8'), 'text/javascript'],
    };
    const site: Server = createServer((request, response) => {
      const file = files[request.url ?? ''];
      response.writeHead(file ? 200 : 404, { 'content-type': file?.[1] ?? 'text/plain' }).end(file?.[0] ?? 'not found');
    });
    site.listen(0, '127.0.0.1');
    await new Promise((resolve) => site.once('listening', resolve));
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    try {
      const page = await browser.newPage();
      const errors: Error[] = [];
      page.on('pageerror', (error) => errors.push(error));
      await page.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => 'flip' in window);
      const photo = await makeImage(23, 14, 'png');
      const answer = await page.evaluate(
        ([url, bytes]) => (window as unknown as { flip: (u: string, b: number[]) => Promise<{ contentType: string; applied: unknown; bytes: number[] }> }).flip(url, bytes),
        [server.url, Array.from(photo)] as [string, number[]],
      );
      assert.equal(answer.contentType, 'image/png');
      assert.deepEqual(answer.applied, { op: 'flip', seed: 3, params: { direction: 'horizontal' } });
      assertMirrored(await pixels(photo), await pixels(Buffer.from(answer.bytes)));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      site.close();
    }
  });

  test('its types reach a TypeScript user with DOM types only (no Node), checked against the contract', () => {
    writeFileSync(path.join(app, 'typed.ts'), TYPED);
    const tsc = require.resolve('typescript/bin/tsc');
    // The scratch project has no @types packages, so nothing but the DOM and ES libs is in scope.
    run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', 'typed.ts'], app);
  });
});
