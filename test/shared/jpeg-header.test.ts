import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { jpegHeader } from '../../services/shared/jpeg.ts';
import { makeImage } from '../helpers/images.ts';

test('jpegHeader: size from the frame header; plain only for 8-bit YCbCr without EXIF or ICC, ending in EOI', async () => {
  const base = await makeImage(64, 48, 'png');
  const jpeg = (image: Sharp) => image.jpeg({ quality: 90 }).toBuffer();
  const cases: Array<[string, Buffer, { width: number; height: number; plain: boolean } | undefined]> = [
    ['baseline 4:2:0', await jpeg(sharp(base)), { width: 64, height: 48, plain: true }],
    ['progressive', await sharp(base).jpeg({ progressive: true }).toBuffer(), { width: 64, height: 48, plain: true }],
    ['4:4:4', await sharp(base).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(), { width: 64, height: 48, plain: true }],
    ['grey', await jpeg(sharp(base).toColourspace('b-w')), { width: 64, height: 48, plain: false }],
    ['CMYK', await jpeg(sharp(base).toColourspace('cmyk')), { width: 64, height: 48, plain: false }],
    ['EXIF orientation', await jpeg(sharp(base).withMetadata({ orientation: 6 })), { width: 64, height: 48, plain: false }],
    ['ICC profile', await jpeg(sharp(base).withIccProfile('p3')), { width: 64, height: 48, plain: false }],
    ['PNG', base, undefined],
    ['empty', Buffer.alloc(0), undefined],
    ['SOI alone', Buffer.from([0xff, 0xd8, 0xff, 0xd9]), undefined],
  ];
  const whole = cases[0]![1];
  cases.push(['truncated', whole.subarray(0, whole.length - 100), { width: 64, height: 48, plain: false }]);
  cases.push(['header cut short', whole.subarray(0, 30), undefined]);
  for (const [name, bytes, expected] of cases) assert.deepEqual(jpegHeader(bytes), expected, `${name}`);
  // Every prefix and a flipped byte anywhere in the header: never a throw, never a plain verdict with another size.
  for (let n = 0; n < 400; n++) {
    const bytes = Buffer.from(whole.subarray(0, n < 200 ? n : whole.length));
    if (n >= 200) bytes[(n - 200) % 200]! ^= 0x5a;
    const header = jpegHeader(bytes);
    if (header?.plain) assert.ok(header.width > 0 && header.height > 0);
  }
});
