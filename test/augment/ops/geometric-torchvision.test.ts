import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAugmentApp } from '../../../services/augment/app.ts';
import { readAugmentConfig } from '../../../services/augment/config.ts';
import { form } from '../../helpers/form.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes, torchvisionCases } from '../../helpers/torchvision.ts';

/** Applied params as form fields: flat lists `a,b`, lists of lists as JSON text. */
export function asFields(params: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(params).map(([name, value]) => [
      name,
      Array.isArray(value) ? (value.some(Array.isArray) ? JSON.stringify(value) : value.join(',')) : String(value),
    ]),
  );
}

describe("affine, perspective and rotate through their routes, against torchvision 0.14's F.affine, F.perspective and F.rotate", () => {
  let app: FastifyInstance;
  before(async () => {
    app = await buildAugmentApp(readAugmentConfig({ LOG_LEVEL: 'silent' }));
  });
  after(() => app.close());

  for (const c of torchvisionCases('geometric')) {
    test(`${c.name} (${c.op} ${JSON.stringify(c.params)})`, async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/augment/${c.op}`,
        body: form({ image: inputBytes(c.input), format: 'png', ...asFields(c.params) }),
        headers: { accept: 'application/json' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const answer = res.json();
      // The route answers the params it was sent: a replay is a replay.
      for (const [name, value] of Object.entries(c.params)) assert.deepEqual(answer.params[name], value, name);
      const out = await decodeRaw(Buffer.from(answer.image, 'base64'));
      const expected = await decodeRaw(expectedBytes('geometric', c.name));
      const d = assertCloseToTorchvision(out, expected, c.tolerance, c.name);
      t.diagnostic(`${c.name}: mean |difference| ${d.mean.toFixed(4)}, ${(d.share * 100).toFixed(2)} % off by > 8, max ${d.max}`);
    });
  }
});
