import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { runJob, type JobOptions } from '../../client/augment-dataset/job.ts';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { makeImage } from '../helpers/images.ts';
import { makeTar, readTar } from '../helpers/tar.ts';

const REPO = join(import.meta.dirname, '..', '..');
const OPS = [{ op: 'flip', p: 0.5 }, { op: 'rotate', angle_range: [-15, 15] }, { op: 'cutout', p: 0.5 }];

/** Every file of a job's output, by name (the shards, their sidecars and the manifest). */
function outputFiles(folder: string): Map<string, Buffer> {
  return new Map(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name))]));
}

/**
 * A replica in front of a real one that dies on its first shard: it passes `cutAfter` bytes of
 * the answer, then drops the connection and stops listening (later calls are refused).
 */
function dyingReplica(target: string, cutAfter: number): Promise<{ url: string; calls: () => number; server: Server }> {
  let calls = 0;
  const server = createServer((req, res) => {
    calls++;
    const upstream = httpRequest(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      let sent = 0;
      answer.on('data', (chunk: Buffer) => {
        if (sent >= cutAfter) return;
        res.write(chunk.subarray(0, cutAfter - sent));
        sent += chunk.length;
        if (sent >= cutAfter) {
          answer.destroy();
          res.socket?.destroy();
          server.close();
        }
      });
    });
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls: () => calls, server })));
}

describe('npm run augment-dataset', () => {
  let apps: FastifyInstance[];
  let urls: string[];
  let root: string;
  let input: string;
  const base = (output: string, extra: Partial<JobOptions> = {}): JobOptions => ({
    input,
    output,
    ops: OPS,
    variants: 2,
    seed: 11,
    epoch: 1,
    services: [urls[0]!],
    shardSize: 4,
    concurrency: 1,
    shardIndex: 0,
    shardCount: 1,
    backoffMs: 1,
    ...extra,
  });

  before(async () => {
    apps = [];
    urls = [];
    for (let i = 0; i < 3; i++) {
      const app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
      urls.push(await app.listen({ port: 0, host: '127.0.0.1' }));
      apps.push(app);
    }
    root = mkdtempSync(join(tmpdir(), 'augserve-dataset-'));
    input = join(root, 'in');
    for (const [cls, count] of [['cat', 6], ['dog', 5]] as const) {
      mkdirSync(join(input, cls), { recursive: true });
      for (let i = 0; i < count; i++) writeFileSync(join(input, cls, `${cls}${i}.${i % 2 ? 'png' : 'jpg'}`), await makeImage(24 + i, 20 + (cls === 'dog' ? i : 0), i % 2 ? 'png' : 'jpeg'));
    }
    writeFileSync(join(input, 'dog', 'broken.png'), 'not an image');
  });
  after(async () => {
    await Promise.all(apps.map((app) => app.close()));
    rmSync(root, { recursive: true, force: true });
  });

  let reference: Map<string, Buffer>;

  test('ImageFolder in, shards out: classes in sorted order, manifest, the failed sample listed', async () => {
    const out = join(root, 'one');
    const report = await runJob(base(out));
    assert.equal(report.written, 3);
    assert.deepEqual(report.failures.map((f) => [f.shard, f.key, f.code]), [['shard-000001', 'dog/broken', 'AUG_UNSUPPORTED_MEDIA']]);
    reference = outputFiles(out);
    const manifest = JSON.parse(reference.get('manifest.json')!.toString());
    assert.deepEqual(manifest.classes, ['cat', 'dog']);
    assert.equal(manifest.samples, 12);
    assert.equal(manifest.errors, 1);
    assert.deepEqual(manifest.shards.map((s: { name: string; samples: number }) => [s.name, s.samples]), [['shard-000000.tar', 4], ['shard-000001.tar', 4], ['shard-000002.tar', 4]]);
    const first = await readTar(reference.get('shard-000000.tar')!);
    assert.deepEqual(first.slice(0, 4).map((m) => m.name), ['cat/cat0.v0.jpg', 'cat/cat0.v0.json', 'cat/cat0.v0.cls', 'cat/cat0.v1.jpg']);
    const dogs = await readTar(reference.get('shard-000002.tar')!);
    assert.equal(dogs.find((m) => m.name === 'dog/dog4.v0.cls')!.data.toString(), '1');
    assert.ok(!dogs.some((m) => m.name.includes('error') || m.name.includes('summary')));
  });

  test('byte-identical with 1, 2 or 3 services, any concurrency, and as two slices of an Indexed Job', async () => {
    // Shard i starts at service i mod n: with 3 services and concurrency 3 the three shards are
    // made by three replicas at once; with 2, two of them share one.
    const two = join(root, 'two');
    await runJob(base(two, { services: urls.slice(0, 2), concurrency: 3 }));
    assert.deepEqual(outputFiles(two), reference);
    for (const concurrency of [3, 2]) {
      const three = join(root, `three-c${concurrency}`);
      await runJob(base(three, { services: urls, concurrency }));
      assert.deepEqual(outputFiles(three), reference, `3 services, concurrency ${concurrency}`);
    }
    const sliced = join(root, 'sliced');
    await runJob(base(sliced, { services: [urls[1]!], shardIndex: 1, shardCount: 2 }));
    assert.deepEqual([...outputFiles(sliced).keys()], ['manifest.json', 'shard-000001.json', 'shard-000001.tar']);
    await runJob(base(sliced, { services: [urls[0]!], shardIndex: 0, shardCount: 2, concurrency: 2 }));
    assert.deepEqual(outputFiles(sliced), reference);
  });

  test('resume after a kill: the killed run leaves whole shards only, the next run skips them', async () => {
    const out = join(root, 'resumed');
    writeFileSync(join(root, 'ops.json'), JSON.stringify(OPS));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'client/augment-dataset/cli.ts', input, out, '--ops', join(root, 'ops.json'), '--variants', '2', '--seed', '11', '--epoch', '1', '--services', urls[0]!, '--shard-size', '4', '--concurrency', '1'], {
        cwd: REPO,
        env: { ...process.env, AUGMENT_DATASET_EXIT_AFTER_SHARDS: '1' },
        stdio: 'ignore',
      });
      child.on('exit', resolve);
    });
    assert.equal(code, 75);
    assert.deepEqual(readdirSync(out).filter((name) => !name.startsWith('.')).sort(), ['shard-000000.json', 'shard-000000.tar']);
    // What a kill in the middle of a shard leaves: its temporary file, never renamed.
    writeFileSync(join(out, '.shard-000001.tar.partial-99999'), 'half a shard');
    const report = await runJob(base(out));
    assert.equal(report.skipped, 1);
    assert.equal(report.written, 2);
    const files = outputFiles(out);
    for (const name of files.keys()) assert.ok(!name.startsWith('.'), `no temporary file left: ${name}`);
    assert.deepEqual(files, reference);
    // A shard whose bytes no longer match its sidecar is done again.
    writeFileSync(join(out, 'shard-000002.tar'), 'damaged');
    const again = await runJob(base(out));
    assert.deepEqual([again.skipped, again.written], [2, 1]);
    assert.deepEqual(outputFiles(out), reference);
  });

  test('a replica that dies mid-answer costs no sample: the shard is redone on the other one', async () => {
    const dying = await dyingReplica(urls[1]!, 3000);
    const out = join(root, 'failover');
    const retries: string[] = [];
    // Shard 1 goes first to the dying replica (shard i starts at service i mod 2).
    const report = await runJob(base(out, { services: [urls[0]!, dying.url], concurrency: 2, onProgress: (e) => e.type === 'retry' && retries.push(`${e.index}`) }));
    assert.ok(dying.calls() >= 1);
    assert.ok(retries.includes('1'));
    assert.equal(report.failedShards.length, 0);
    assert.deepEqual(outputFiles(out), reference);
  });

  test('a replica answering 503 is retried elsewhere; a shard the service refuses is reported, not retried', async () => {
    let overloaded = 0;
    const busy = createServer((req, res) => {
      overloaded++;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '1' }).end('{"code":"AUG_OVERLOADED"}');
    });
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const out = join(root, 'busy');
      const report = await runJob(base(out, { services: [`http://127.0.0.1:${(busy.address() as AddressInfo).port}`, urls[0]!], concurrency: 2 }));
      assert.ok(overloaded >= 1);
      assert.equal(report.failedShards.length, 0);
      assert.deepEqual(outputFiles(out), reference);
    } finally {
      busy.close();
    }
    const events: string[] = [];
    const refused = await runJob(base(join(root, 'refused'), { ops: [{ op: 'cutmix' }], onProgress: (e) => events.push(e.type) }));
    assert.deepEqual(events, ['start']);
    assert.equal(refused.written, 0);
    assert.equal(refused.failedShards.length, 3);
    assert.match(refused.failedShards[0]!.reason, /HTTP 400/);
  });

  test('a folder of .tar shards goes through as it is; COCO boxes go into each sample', async () => {
    const shards = join(root, 'tars');
    mkdirSync(shards);
    writeFileSync(join(shards, 'a.tar'), await makeTar([{ name: 'x1.png', data: await makeImage(20, 20) }, { name: 'x1.cls', data: '4' }]));
    const out = join(root, 'from-tars');
    const report = await runJob(base(out, { input: shards, variants: 1 }));
    assert.equal(report.written, 1);
    assert.deepEqual((await readTar(readFileSync(join(out, 'shard-000000.tar')))).map((m) => m.name), ['x1.v0.png', 'x1.v0.json', 'x1.v0.cls']);

    const coco = join(root, 'coco');
    mkdirSync(join(coco, 'images'), { recursive: true });
    writeFileSync(join(coco, 'images', 'p.jpg'), await makeImage(40, 30, 'jpeg'));
    writeFileSync(join(coco, 'instances.json'), JSON.stringify({
      images: [{ id: 7, file_name: 'p.jpg' }],
      annotations: [{ image_id: 7, bbox: [0, 0, 10, 10], category_id: 3 }],
      categories: [{ id: 3, name: 'cup' }],
    }));
    const cocoOut = join(root, 'from-coco');
    await runJob(base(cocoOut, { input: join(coco, 'instances.json'), images: join(coco, 'images'), ops: [{ op: 'flip', direction: 'horizontal' }], variants: 1 }));
    const members = await readTar(readFileSync(join(cocoOut, 'shard-000000.tar')));
    const info = JSON.parse(members.find((m) => m.name === '000000000007.v0.json')!.data.toString());
    assert.deepEqual(info.targets.bboxes, [[30, 0, 10, 10]]);
    assert.deepEqual(info.targets.bbox_labels, [3]);
    assert.deepEqual(JSON.parse(readFileSync(join(cocoOut, 'manifest.json'), 'utf8')).classes, ['3:cup']);
  });
});
