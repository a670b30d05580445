import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { expandedSize, homography, mapProjective, projective, torchvisionAffine, composeProjective, invertProjective } from '../../../services/augment/ops/geometry.ts';
import { warp } from '../../../services/augment/ops/warp.ts';
import { assertCloseToTorchvision, decodeRaw, expectedBytes, inputBytes, torchvisionCases } from '../../helpers/torchvision.ts';

type Point = [number, number];

describe('the composed-matrix helper and the warp, against torchvision 0.14', () => {
  for (const c of torchvisionCases('geometry')) {
    test(c.name, async () => {
      const src = await decodeRaw(inputBytes(c.input));
      const expected = await decodeRaw(expectedBytes('geometry', c.name));
      const size = { width: src.width, height: src.height };
      const p = c.params as Record<string, any>;
      const forward = p.startpoints
        ? homography(p.startpoints as Point[], p.endpoints as Point[])
        : projective(
            torchvisionAffine(
              { angle: p.angle, translate: p.translate ?? [0, 0], scale: p.scale ?? 1, shear: p.shear ?? [0, 0], center: p.center ?? [size.width / 2, size.height / 2] },
              size,
              p.expand ? expandedSize(p.angle, size) : size,
            ),
          );
      const out = warp(src, forward, expected.width, expected.height, { interpolation: p.interpolation, fill: new Uint8Array(src.channels) });
      assertCloseToTorchvision(out, expected, c.tolerance, c.name);
    });
  }

  test('a homography takes its four points to their partners, and composing with its inverse is the identity', () => {
    const from: Point[] = [[0, 0], [100, 0], [100, 80], [0, 80]];
    const to: Point[] = [[7, 3], [91, -4], [104, 77], [-2, 85]];
    const h = homography(from, to);
    from.forEach(([x, y], i) => {
      const [u, v] = mapProjective(h, x, y);
      assert.ok(Math.abs(u - to[i]![0]) < 1e-9 && Math.abs(v - to[i]![1]) < 1e-9, `${[u, v]} vs ${to[i]}`);
    });
    const id = composeProjective(invertProjective(h), h);
    [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, i) => assert.ok(Math.abs(id[i]! / id[8] - v) < 1e-9));
  });

  test("expand gives torchvision's canvas (700×700 for 512×512 at 30°)", () => {
    assert.deepEqual(expandedSize(30, { width: 512, height: 512 }), { width: 700, height: 700 });
    assert.deepEqual(expandedSize(90, { width: 40, height: 30 }), { width: 30, height: 40 });
  });
});
