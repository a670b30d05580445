import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colourPixel, parseColour } from '../../../services/augment/colour.ts';
import { assertCode } from './fixtures.ts';

const cases: Array<[string, string, [number, number, number, number]]> = [
  ['#F80', '#ff8800', [255, 136, 0, 255]],
  ['#102030', '#102030', [16, 32, 48, 255]],
  ['#10203040', '#10203040', [16, 32, 48, 64]],
  ['black', '#000000', [0, 0, 0, 255]],
  ['White', '#ffffff', [255, 255, 255, 255]],
  ['grey', '#808080', [128, 128, 128, 255]],
  ['gray', '#808080', [128, 128, 128, 255]],
  ['red', '#ff0000', [255, 0, 0, 255]],
  ['green', '#008000', [0, 128, 0, 255]],
  ['blue', '#0000ff', [0, 0, 255, 255]],
];

for (const [input, hex, [r, g, b, alpha]] of cases) {
  test(`colour ${input} parses to ${hex}`, () => {
    assert.deepEqual(parseColour(input, 'fill'), { r, g, b, alpha, hex });
  });
}

test('colour pixels follow the channel layout', () => {
  const colour = parseColour('#ff000080', 'fill');
  assert.deepEqual([...colourPixel(colour, 1)], [54]);
  assert.deepEqual([...colourPixel(colour, 2)], [54, 128]);
  assert.deepEqual([...colourPixel(colour, 3)], [255, 0, 0]);
  assert.deepEqual([...colourPixel(colour, 4)], [255, 0, 0, 128]);
});

test('colour rejects anything else', () => {
  for (const bad of ['', '#12', '#12345', '#1234567', 'purple', 'rgb(0,0,0)', 7, undefined]) {
    assertCode(() => parseColour(bad, 'fill'), 'AUG_INVALID_PARAM');
  }
});
