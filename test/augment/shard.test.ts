import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import tar from 'tar-stream';
import { buildAugmentApp } from '../../services/augment/app.ts';
import { readAugmentConfig } from '../../services/augment/config.ts';
import { sampleSeed } from '../../services/augment/shard/seed.ts';
import { form } from '../helpers/form.ts';
import { makeImage, pixels } from '../helpers/images.ts';
import { makeTar, readTar, type TarMember } from '../helpers/tar.ts';

const tarHeaders = createRequire(import.meta.url)('tar-stream/headers.js') as { encode(header: Record<string, unknown>): Buffer };

/** Low, so that the 100,000-member tar stays a quick test; the check is the same at any limit. */
const MEMBER_LIMIT = 2000;
const OPS = [{ op: 'flip', p: 0.5 }, { op: 'rotate', angle_range: [-20, 20] }, { op: 'cutout', p: 0.5, holes: 2 }];
const query = (extra: Record<string, string | number> = {}, ops: unknown = OPS) =>
  new URLSearchParams({ ops: JSON.stringify(ops), seed: '7', ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])) }).toString();

describe('POST /v1/augment/shard', () => {
  let app: FastifyInstance;
  let images: Record<string, Buffer>;

  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CONCURRENCY: '2', MAX_SHARD_MEMBERS: String(MEMBER_LIMIT), MAX_FILE_BYTES: String(256 * 1024), MAX_INPUT_PIXELS: String(1_000_000) }));
    images = {
      a: await makeImage(48, 32, 'jpeg'),
      b: await makeImage(30, 40, 'png'),
      c: await makeImage(25, 25, 'webp'),
      d: await makeImage(33, 21, 'png', 1),
    };
  });
  after(() => app.close());

  const shard = (body: Buffer, q = query()) =>
    app.inject({ method: 'POST', url: `/v1/augment/shard?${q}`, headers: { 'content-type': 'application/x-tar' }, body });
  const members = (keys: string[]): TarMember[] =>
    keys.flatMap((key) => [
      { name: `${key}.${key === 'a' ? 'jpg' : key === 'c' ? 'webp' : 'png'}`, data: images[key] },
      { name: `${key}.cls`, data: String(key.charCodeAt(0) - 97) },
    ]);
  let address: string | undefined;
  const listening = async () => (address ??= await app.listen({ port: 0, host: '127.0.0.1' }));
  const byName = (list: Array<{ name: string; data: Buffer }>) => new Map(list.map((m) => [m.name, m.data]));

  test('each sample gives its variants, .json and .cls, in request order, and the summary last', async () => {
    const res = await shard(await makeTar(members(['a', 'b'])), query({ variants: 2, epoch: 3 }));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/x-tar');
    const out = await readTar(res.rawPayload);
    assert.deepEqual(out.map((m) => m.name), [
      'a.v0.jpg', 'a.v0.json', 'a.v0.cls', 'a.v1.jpg', 'a.v1.json', 'a.v1.cls',
      'b.v0.png', 'b.v0.json', 'b.v0.cls', 'b.v1.png', 'b.v1.json', 'b.v1.cls', '__summary__.json',
    ]);
    const files = byName(out);
    const info = JSON.parse(files.get('b.v1.json')!.toString());
    assert.equal(info.key, 'b');
    assert.equal(info.variant, 1);
    assert.equal(info.seed, sampleSeed(7, 3, 'b', 1));
    assert.equal(info.label, 1);
    assert.equal(files.get('b.v1.cls')!.toString(), '1');
    const summary = JSON.parse(files.get('__summary__.json')!.toString());
    assert.deepEqual({ ...summary, seconds: 0 }, { samples: 2, variants: 2, errors: 0, seconds: 0, seed: 7, epoch: 3 });
    // The same per-sample work as the pipeline route: its seed there gives the same bytes.
    const single = await app.inject({
      method: 'POST',
      url: '/v1/augment/pipeline',
      body: form({ image: images.b, ops: JSON.stringify(OPS), seed: info.seed }),
    });
    assert.equal(single.statusCode, 200);
    assert.deepEqual(single.rawPayload, files.get('b.v1.png'));
    assert.deepEqual(JSON.parse(single.headers['x-augment-params'] as string).applied, info.applied);
  });

  test('Swagger UI is given the endpoint: a tar body, its query parameters', async () => {
    const doc = (await app.inject('/docs/json')).json();
    const operation = doc.paths['/v1/augment/shard'].post;
    assert.ok(operation.requestBody.content['application/x-tar']);
    assert.deepEqual(operation.parameters.map((p: { name: string }) => p.name), ['ops', 'variants', 'seed', 'epoch', 'format', 'quality', 'layout']);
  });

  test('a sample is byte-identical whichever shard holds it and in whatever order', async () => {
    const whole = byName(await readTar((await shard(await makeTar(members(['a', 'b', 'c', 'd'])), query({ variants: 3 }))).rawPayload));
    const first = byName(await readTar((await shard(await makeTar(members(['d', 'a'])), query({ variants: 3 }))).rawPayload));
    const second = byName(await readTar((await shard(await makeTar(members(['c', 'b'])), query({ variants: 3 }))).rawPayload));
    let compared = 0;
    for (const [name, data] of whole) {
      if (name === '__summary__.json') continue;
      assert.deepEqual(first.get(name) ?? second.get(name), data, name);
      compared++;
    }
    assert.equal(compared, 4 * 3 * 3);
    // Another epoch is other variants.
    const next = byName(await readTar((await shard(await makeTar(members(['a'])), query({ variants: 3, epoch: 1 }))).rawPayload));
    assert.notDeepEqual(next.get('a.v0.json'), whole.get('a.v0.json'));
  });

  test('SHARD_CONCURRENCY changes nothing in the answer: the same members, in request order, with the same bytes', async () => {
    // Samples of very different sizes, so that at 8 at a time they finish out of order.
    const list: TarMember[] = [];
    for (let i = 0; i < 10; i++) list.push({ name: `k${i}.png`, data: await makeImage(i % 2 ? 160 : 12, i % 3 ? 120 : 9, 'png') });
    const body = await makeTar(list);
    const answers = [];
    for (const concurrency of ['1', '8']) {
      const other = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', SHARD_CONCURRENCY: concurrency }));
      try {
        const res = await other.inject({ method: 'POST', url: `/v1/augment/shard?${query({ variants: 2 })}`, headers: { 'content-type': 'application/x-tar' }, body });
        assert.equal(res.statusCode, 200);
        answers.push((await readTar(res.rawPayload)).filter((m) => m.name !== '__summary__.json'));
      } finally {
        await other.close();
      }
    }
    assert.equal(answers[0]!.length, 10 * 2 * 2);
    assert.deepEqual(answers[0]!.map((m) => m.name), list.flatMap((m) => [0, 1].flatMap((v) => [`${m.name.slice(0, -4)}.v${v}.png`, `${m.name.slice(0, -4)}.v${v}.json`])));
    assert.deepEqual(answers[1], answers[0]);
  });

  test('targets in .json and masks move with the image; masks come back as members', async () => {
    const mask = await sharp(Buffer.alloc(48 * 32, 0).fill(255, 0, 48 * 16), { raw: { width: 48, height: 32, channels: 1 } }).toColourspace('b-w').png().toBuffer();
    const body = await makeTar([
      { name: 'x/s1.jpg', data: images.a },
      { name: 'x/s1.json', data: JSON.stringify({ label: 'cat', bboxes: [[0, 0, 10, 10]], bbox_labels: ['box'], meta: 'ignored' }) },
      { name: 'x/s1.mask.png', data: mask },
    ]);
    const res = await shard(body, query({}, [{ op: 'flip', direction: 'horizontal' }]));
    const files = byName(await readTar(res.rawPayload));
    assert.deepEqual([...files.keys()], ['x/s1.v0.jpg', 'x/s1.v0.mask.png', 'x/s1.v0.json', '__summary__.json'], files.get('x/s1.error.json')?.toString());
    const info = JSON.parse(files.get('x/s1.v0.json')!.toString());
    assert.equal(info.label, 'cat');
    assert.deepEqual(info.targets.bboxes, [[38, 0, 48, 10]]);
    assert.deepEqual(info.targets.bbox_labels, ['box']);
    const maskPng = files.get('x/s1.v0.mask.png')!;
    assert.equal((await sharp(maskPng).metadata()).channels, 1);
    const moved = await pixels(maskPng);
    assert.deepEqual([moved.width, moved.height], [48, 32]);
    assert.equal(moved.data[0], 255);
    assert.equal(moved.data[48 * 31 * moved.channels], 0);
  });

  describe('hostile tars: per-sample errors or a clean 4xx, never a 5xx, never a file written', () => {
    const problems = (list: Array<{ name: string; data: Buffer }>) =>
      new Map(list.filter((m) => m.name.endsWith('.error.json') || m.name === '__error__.json').map((m) => [m.name, JSON.parse(m.data.toString())]));

    test('traversal, absolute, links, devices, non-images, duplicates, bombs: each fails its own sample, the rest go on', async () => {
      const outside = mkdtempSync(join(tmpdir(), 'augserve-shard-'));
      try {
        const bomb = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
        const body = await makeTar([
          ...members(['a']),
          { name: `../../../../../..${outside}/evil.jpg`, data: images.a },
          { name: `${outside}/evil2.jpg`, data: images.a },
          { name: 'link.jpg', type: 'symlink', linkname: `${outside}/target` },
          { name: 'hard.jpg', type: 'link', linkname: 'a.jpg' },
          { name: 'dev.jpg', type: 'character-device' },
          { name: 'fifo.jpg', type: 'fifo' },
          { name: 'dir', type: 'directory' },
          { name: 'notes.txt', data: 'hello' },
          { name: 'fake.jpg', data: 'not an image at all' },
          { name: 'bomb.png', data: bomb },
          { name: 'big.png', data: Buffer.alloc(300 * 1024) },
          { name: 'two.jpg', data: images.a },
          { name: 'two.png', data: images.b },
          { name: 'badcls.png', data: images.b },
          { name: 'badcls.cls', data: 'seven' },
          { name: 'badjson.png', data: images.b },
          { name: 'badjson.json', data: '{"bboxes": [[5, 5, 1, 1]]}' },
          { name: 'empty.png', data: '' },
          { name: 'a.png', data: images.b }, // duplicate key, not consecutive
          ...members(['b']),
        ]);
        const res = await shard(body);
        assert.equal(res.statusCode, 200);
        const out = await readTar(res.rawPayload);
        for (const { name } of out) assert.ok(!name.startsWith('/') && !name.split('/').includes('..') && !name.includes(outside), name);
        const found = problems(out);
        const expect: Array<[string, string, number]> = [
          ['__member_2__.error.json', 'AUG_INVALID_REQUEST', 400],
          ['__member_3__.error.json', 'AUG_INVALID_REQUEST', 400],
          ['link.error.json', 'AUG_INVALID_REQUEST', 400],
          ['hard.error.json', 'AUG_INVALID_REQUEST', 400],
          ['dev.error.json', 'AUG_INVALID_REQUEST', 400],
          ['fifo.error.json', 'AUG_INVALID_REQUEST', 400],
          ['notes.error.json', 'AUG_INVALID_REQUEST', 400],
          ['fake.error.json', 'AUG_UNSUPPORTED_MEDIA', 415],
          ['bomb.error.json', 'AUG_PAYLOAD_TOO_LARGE', 413],
          ['big.error.json', 'AUG_PAYLOAD_TOO_LARGE', 413],
          ['two.error.json', 'AUG_INVALID_REQUEST', 400],
          ['badcls.error.json', 'AUG_INVALID_PARAM', 400],
          ['badjson.error.json', 'AUG_INVALID_PARAM', 400],
          ['empty.error.json', 'AUG_INVALID_REQUEST', 400],
          ['a.error.json', 'AUG_INVALID_REQUEST', 400],
        ];
        assert.deepEqual([...found.keys()].sort(), expect.map(([name]) => name).sort());
        for (const [name, code, status] of expect) {
          assert.equal(found.get(name).code, code, name);
          assert.equal(found.get(name).status, status, name);
          assert.equal(found.get(name).type, `urn:augserve:problem:${code.toLowerCase()}`);
        }
        assert.ok(!JSON.stringify(found.get('__member_2__.error.json')).includes(outside));
        const names = out.map((m) => m.name);
        assert.ok(names.includes('a.v0.jpg') && names.includes('b.v0.png'));
        assert.equal(names.at(-1), '__summary__.json');
        assert.equal(JSON.parse(out.at(-1)!.data.toString()).errors, expect.length);
        assert.ok(!existsSync(join(outside, 'evil.jpg')) && !existsSync(join(outside, 'evil2.jpg')) && !existsSync(join(outside, 'target')));
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    test('a pax header with a huge path: the member fails, its name is never echoed', async () => {
      const res = await shard(await makeTar([{ name: `${'p'.repeat(300_000)}.jpg`, data: images.a }, ...members(['b'])]));
      assert.equal(res.statusCode, 200);
      const out = await readTar(res.rawPayload);
      assert.deepEqual(out.map((m) => m.name), ['__member_0__.error.json', 'b.v0.png', 'b.v0.json', 'b.v0.cls', '__summary__.json']);
      assert.ok(out[0]!.data.length < 1000);
    });

    test('a pax header over the parser\'s cap, a header claiming more bytes than follow, not a tar, an empty body: 400 before any answer', async () => {
      const pax = tarHeaders.encode({ name: 'PaxHeader', type: 'pax-header', size: 64 * 1024 * 1024, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) });
      const whole = await makeTar([{ name: 'a.jpg', data: images.a }]);
      const claimsMore = whole.subarray(0, 512 + 100); // header says images.a.length bytes; 100 follow
      for (const body of [Buffer.concat([pax, Buffer.alloc(4096)]), claimsMore, Buffer.from('GIF89a, not a tar'.repeat(100)), Buffer.alloc(0)]) {
        const res = await shard(body);
        assert.equal(res.statusCode, 400);
        assert.equal(res.json().code, 'AUG_INVALID_REQUEST');
      }
    });

    test('a tar truncated after some samples: those samples, then __error__.json instead of the summary', async () => {
      const whole = await makeTar([...members(['a', 'b'])]);
      const cut = whole.subarray(0, whole.length - 1024 - 300); // b.cls's block and the end blocks gone
      const res = await shard(cut);
      assert.equal(res.statusCode, 200);
      const out = await readTar(res.rawPayload);
      assert.deepEqual(out.map((m) => m.name).slice(0, 3), ['a.v0.jpg', 'a.v0.json', 'a.v0.cls']);
      assert.equal(out.at(-1)!.name, '__error__.json');
      assert.ok(!out.some((m) => m.name === '__summary__.json'));
      assert.equal(JSON.parse(out.at(-1)!.data.toString()).code, 'AUG_INVALID_REQUEST');
    });

    test('100,000 empty members: per-sample errors up to MAX_SHARD_MEMBERS, then a 413 __error__.json', async () => {
      const block = (name: string) => tarHeaders.encode({ name, type: 'file', size: 0, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) });
      const body = Buffer.concat([await makeTar(members(['a'])).then((t) => t.subarray(0, t.length - 1024)), ...Array.from({ length: 100_000 }, (_, i) => block(`e${i}.jpg`)), Buffer.alloc(1024)]);
      const res = await shard(body);
      assert.equal(res.statusCode, 200);
      const out = await readTar(res.rawPayload);
      assert.equal(out[0]!.name, 'a.v0.jpg');
      const last = JSON.parse(out.at(-1)!.data.toString());
      assert.equal(out.at(-1)!.name, '__error__.json');
      assert.equal(last.code, 'AUG_PAYLOAD_TOO_LARGE');
      assert.equal(last.status, 413);
      // a.jpg and a.cls are members 0 and 1; every empty one before the limit is its own failed
      // sample, but for the last, still open (more of its members could have followed) when the limit broke in.
      assert.equal(out.filter((m) => m.name.endsWith('.error.json')).length, MEMBER_LIMIT - 3);
    });
  });

  test('refusals before any answer: mosaic with cutmix, variants out of range, unknown parameter, wrong media type, Content-Length over MAX_SHARD_BYTES', async () => {
    const body = await makeTar(members(['a']));
    const cases: Array<[string, number, string]> = [
      [query({}, [{ op: 'mosaic' }, { op: 'cutmix' }]), 400, 'AUG_INVALID_PARAM'],
      [query({ variants: 33 }), 400, 'AUG_INVALID_PARAM'],
      [query({ variants: 0 }), 400, 'AUG_INVALID_PARAM'],
      [query({ colour: 'red' }), 400, 'AUG_INVALID_REQUEST'],
      [query({}, [{ op: 'spin' }]), 400, 'AUG_UNKNOWN_OP'],
      ['seed=1', 400, 'AUG_INVALID_REQUEST'],
    ];
    for (const [q, status, code] of cases) {
      const res = await shard(body, q);
      assert.equal(res.statusCode, status, q);
      assert.equal(res.json().code, code, q);
    }
    const wrongType = await app.inject({ method: 'POST', url: `/v1/augment/shard?${query()}`, headers: { 'content-type': 'application/octet-stream' }, body });
    assert.equal(wrongType.statusCode, 415);
    const small = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent', MAX_SHARD_BYTES: '1024' }));
    try {
      const big = await small.inject({ method: 'POST', url: `/v1/augment/shard?${query()}`, headers: { 'content-type': 'application/x-tar' }, body });
      assert.equal(big.statusCode, 413);
      assert.equal(big.json().code, 'AUG_PAYLOAD_TOO_LARGE');
      // Without a Content-Length the bytes are counted as they come: over the limit inside the first sample, a 413.
      const streamed = await small.inject({ method: 'POST', url: `/v1/augment/shard?${query()}`, headers: { 'content-type': 'application/x-tar' }, payload: Readable.from([body]) });
      assert.equal(streamed.statusCode, 413);
      assert.equal(streamed.json().code, 'AUG_PAYLOAD_TOO_LARGE');
    } finally {
      await small.close();
    }
  });

  test('a client that goes away mid-shard: no crash, and the service serves the next shard', async () => {
    const address = await listening();
    const req = httpRequest(new URL(`/v1/augment/shard?${query()}`, address), { method: 'POST', headers: { 'content-type': 'application/x-tar' } });
    const whole = await makeTar(members(['a', 'b', 'c']));
    req.write(whole.subarray(0, whole.length - 2048)); // a and b whole, c begun; the body stays open
    const res = await new Promise<import('node:http').IncomingMessage>((resolve) => req.on('response', resolve));
    assert.equal(res.statusCode, 200);
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    const closed = new Promise<void>((resolve) => req.socket!.once('close', () => resolve()));
    req.destroy();
    await closed;
    const next = await shard(await makeTar(members(['d'])));
    assert.equal(next.statusCode, 200);
    assert.deepEqual((await readTar(next.rawPayload)).map((m) => m.name), ['d.v0.png', 'd.v0.json', 'd.v0.cls', '__summary__.json']);
  });

  test('streaming: the first sample comes back while the request body is still open', async () => {
    const address = await listening();
    const url = new URL(`/v1/augment/shard?${query()}`, address);
    const requestBody = tar.pack();
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/x-tar' } });
    requestBody.on('data', (chunk: Buffer) => req.write(chunk));
    const add = (name: string, data: Buffer | string) => new Promise<void>((resolve, reject) => requestBody.entry({ name, mtime: new Date(0) }, Buffer.from(data), (e) => (e ? reject(e) : resolve())));
    const response = new Promise<import('node:http').IncomingMessage>((resolve) => req.on('response', resolve));
    // Sample a whole, and the first member of b, so a is known complete; the body stays open.
    await add('a.jpg', images.a!);
    await add('b.png', images.b!);
    const res = await response;
    assert.equal(res.statusCode, 200);
    const extract = tar.extract();
    res.pipe(extract as unknown as NodeJS.WritableStream);
    const names: string[] = [];
    const entries = extract[Symbol.asyncIterator]();
    for (;;) {
      const { value: entry } = await entries.next();
      names.push(entry.header.name);
      entry.resume();
      if (entry.header.name === 'a.v0.json') break;
    }
    assert.deepEqual(names, ['a.v0.jpg', 'a.v0.json']);
    assert.equal(req.writableEnded, false, 'the request body is still open');
    await add('b.cls', '1');
    requestBody.finalize();
    requestBody.on('end', () => req.end());
    for (;;) {
      const { value: entry, done } = await entries.next();
      if (done) break;
      names.push(entry.header.name);
      entry.resume();
    }
    assert.deepEqual(names, ['a.v0.jpg', 'a.v0.json', 'b.v0.png', 'b.v0.json', 'b.v0.cls', '__summary__.json']);
  });
});
